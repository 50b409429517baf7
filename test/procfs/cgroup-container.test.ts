/** Container id and pod uid from /proc/<pid>/cgroup, one fixture file per runtime and cgroup layout (test/fixtures/cgroup). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
import { parsePidCgroup } from '../../src/procfs/pid-cgroup';
import { containerFromCgroups } from '../../src/procfs/cgroup-container';

const DIR = path.resolve(__dirname, '../../../test/fixtures/cgroup');
const A = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const B = 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210';
const POD = '1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d';

const CASES: Array<{ file: string; containerId?: string; podUid?: string; why: string }> = [
  { file: 'docker-cgroupfs-v1', containerId: A, why: '/docker/<id> on every v1 hierarchy; the empty v2 line is skipped' },
  { file: 'docker-systemd-v2', containerId: A, why: 'docker-<id>.scope' },
  { file: 'docker-in-docker-v2', containerId: B, why: 'the innermost container wins' },
  { file: 'containerd-systemd-v2', containerId: A, podUid: POD, why: 'cri-containerd-<id>.scope; pod uid underscores become dashes' },
  { file: 'containerd-cgroupfs-v1', containerId: A, podUid: POD, why: '/kubepods/<qos>/pod<uid>/<id>' },
  { file: 'containerd-cgroupfs-v2-guaranteed', containerId: A, podUid: POD, why: 'guaranteed pods have no qos level' },
  { file: 'containerd-systemd-v1-colon', containerId: A, podUid: POD, why: 'kubepods-...slice:cri-containerd:<id>' },
  { file: 'crio-systemd-v2', containerId: A, podUid: POD, why: 'crio-<id>.scope' },
  { file: 'crio-conmon-v2', podUid: POD, why: 'the conmon monitor is not the container, but it is in the pod' },
  { file: 'podman-systemd-v2', containerId: A, why: 'libpod-<id>.scope with the nested container group' },
  { file: 'podman-cgroupfs-v1', containerId: A, why: '/libpod_parent/libpod-<id>' },
  { file: 'podman-conmon-v2', why: 'libpod-conmon-<id>.scope is the monitor' },
  { file: 'host-v1-hybrid', why: 'a 32-hex-digit group under some other manager is not a container' },
  { file: 'host-systemd-v2', why: 'a login session' },
  { file: 'cgroupns-relative-v2', containerId: A, podUid: POD, why: 'read from inside a cgroup namespace: a path outside it starts with /.. and still names the container' },
  { file: 'kube-pod-only-v2', podUid: POD, why: 'the pod slice itself' },
];

test('every cgroup fixture is in the table', () => {
  assert.deepEqual(readdirSync(DIR).sort(), CASES.map((c) => c.file).sort());
});

for (const c of CASES) {
  test(`${c.file}: ${c.why}`, () => {
    const got = containerFromCgroups(parsePidCgroup(readFileSync(path.join(DIR, c.file), 'utf8')));
    assert.deepEqual(got, { ...(c.containerId ? { containerId: c.containerId } : {}), ...(c.podUid ? { podUid: c.podUid } : {}) });
  });
}
