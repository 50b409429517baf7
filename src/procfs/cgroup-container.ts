/**
 * Which container, and which Kubernetes pod, a process runs in, read from the
 * paths of its /proc/<pid>/cgroup (see pid-cgroup.ts). Container runtimes name
 * a container's cgroup after its 64-hex-digit id, in one of these forms:
 *
 *   Docker, cgroupfs driver        /docker/<id>
 *   Docker, systemd driver         /system.slice/docker-<id>.scope
 *   containerd CRI, systemd        /kubepods.slice/.../cri-containerd-<id>.scope
 *   containerd CRI, cgroupfs       /kubepods/besteffort/pod<uid>/<id>
 *   containerd, systemd, v1 names  /system.slice/containerd.service/kubepods-...slice:cri-containerd:<id>
 *   CRI-O                          /kubepods.slice/.../crio-<id>.scope
 *   Podman                         /machine.slice/libpod-<id>.scope[/container], /libpod_parent/libpod-<id>
 *
 * The same names appear on the v2 line (`0::/...`) and on every v1 hierarchy
 * line, so the first line that yields an id wins, the v2 line first. The
 * innermost id in a path wins (Docker in Docker). A runtime's monitor process
 * (`crio-conmon-<id>.scope`, `libpod-conmon-<id>.scope`) is not the container.
 * Paths are relative to the reader's cgroup namespace: an agent in its own
 * cgroup namespace (Docker's default on cgroup v2) sees other containers'
 * paths as `/../../system.slice/docker-<id>.scope`, which still name them;
 * only processes inside the agent's own cgroup show as `/`.
 *
 * The pod: kubelet puts a pod's containers under `pod<uid>` (cgroupfs driver,
 * the uid with dashes) or `kubepods-<qos>-pod<uid with underscores>.slice`
 * (systemd driver); both are returned with dashes, the form of the pod's
 * metadata.uid (what kube-state-metrics' kube_pod_info{uid} carries).
 */
import type { CgroupEntry } from './pid-cgroup';

export interface ContainerIdentity {
  containerId?: string;
  podUid?: string;
}

const ID = '[0-9a-f]{64}';
const SCOPE_ID = new RegExp(`^(?:docker|cri-containerd|crio|libpod)-(${ID})(?:\\.scope)?$`);
const COLON_ID = new RegExp(`:(?:cri-containerd|docker|crio):(${ID})$`);
const BARE_ID = new RegExp(`^${ID}$`);
const UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
const POD_SEGMENT = new RegExp(`(?:^|-)pod(${UID})(?:\\.slice)?(?::|$)`);

/** The container id and pod uid in one cgroup path (either may be missing). */
export function containerFromPath(path: string): ContainerIdentity {
  const segments = path.split('/').filter((s) => s !== '');
  const kube = segments.some((s) => s === 'kubepods' || s.startsWith('kubepods.') || s.startsWith('kubepods-'));
  let containerId: string | undefined;
  let podUid: string | undefined;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const scoped = SCOPE_ID.exec(seg) ?? COLON_ID.exec(seg);
    if (scoped) containerId = scoped[1];
    // a bare id is a container only under a parent that is a runtime's or a pod's
    else if (BARE_ID.test(seg) && i > 0 && (segments[i - 1] === 'docker' || kube)) containerId = seg;
    if (kube) {
      const pod = POD_SEGMENT.exec(seg);
      if (pod) podUid = pod[1]!.replace(/_/g, '-');
    }
  }
  return { containerId, podUid };
}

/** The identity from a process's cgroup lines: the v2 line first, then v1 lines in file order. */
export function containerFromCgroups(entries: readonly CgroupEntry[]): ContainerIdentity {
  const ordered = [...entries.filter((e) => e.hierarchyId === 0), ...entries.filter((e) => e.hierarchyId !== 0)];
  let podUid: string | undefined;
  for (const e of ordered) {
    const found = containerFromPath(e.path);
    podUid ??= found.podUid;
    if (found.containerId) {
      const pod = found.podUid ?? podUid;
      return pod ? { containerId: found.containerId, podUid: pod } : { containerId: found.containerId };
    }
  }
  return podUid ? { podUid } : {};
}
