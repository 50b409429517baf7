/** The state file's format: round trip, the size bound, and what a bad file is told apart by. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { MAX_STORED_PORTS, parse, PoolFile, serialize, type StoredPort } from '../../src/storage/pool-file';
import { tempDir } from '../helpers/tmp';

const port = (n: number, lastSeen = 1_700_000_000_000): StoredPort => ({
  protocol: n % 2 ? 'tcp' : 'udp',
  port: (n % 65535) + 1,
  processName: `svc${n}`,
  exePath: `/usr/bin/svc${n}`,
  labels: n === 0 ? { container_id: 'abc' } : {},
  firstSeen: lastSeen - 1000,
  lastSeen,
});

test('round trip keeps every field', () => {
  const ports = [port(0), port(1)];
  assert.deepEqual(parse(serialize(ports, Date.now())), ports);
});

test('at most MAX_STORED_PORTS are written, the most recently seen', () => {
  const ports = Array.from({ length: MAX_STORED_PORTS + 5 }, (_, i) => port(i, 1_700_000_000_000 + i));
  const back = parse(serialize(ports, Date.now()));
  assert.equal(back.length, MAX_STORED_PORTS);
  assert.ok(!back.some((p) => p.processName === 'svc0'), 'the oldest is dropped');
});

test('a bad document says what is wrong', () => {
  const good = JSON.parse(serialize([port(1)], Date.now())) as { ports: Array<Record<string, unknown>> };
  assert.throws(() => parse(''), /empty file/);
  assert.throws(() => parse('{"format":"otel-host-receiver/pool","ver'), /not JSON/);
  assert.throws(() => parse('[1,2]'), /not a otel-host-receiver\/pool file/);
  assert.throws(() => parse(JSON.stringify({ ...good, version: 2 })), /format version 2/);
  good.ports[0]!.port = 70000;
  assert.throws(() => parse(JSON.stringify(good)), /ports\[0\]: port is not 1\.\.65535/);
});

test('write replaces the file atomically and leaves only it; a bad file is moved aside on load', async () => {
  const dir = tempDir('pool-file').dir;
  const f = new PoolFile(dir);
  assert.deepEqual(await f.load(Date.now()), { kind: 'missing' });
  await f.write(serialize([port(1)], Date.now()));
  await f.write(serialize([port(1), port(3)], Date.now()));
  assert.equal(parse(readFileSync(f.file, 'utf8')).length, 2);
  assert.deepEqual(readdirSync(dir), ['pool.json']);
  writeFileSync(f.file, 'garbage');
  const r = await f.load(Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(r.kind, 'bad');
  assert.equal(r.kind === 'bad' && r.movedTo, path.join(dir, 'pool.json.corrupt-2026-01-02T030405000Z'));
  assert.deepEqual(readdirSync(dir), ['pool.json.corrupt-2026-01-02T030405000Z']);
});
