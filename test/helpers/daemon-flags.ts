import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The V8 flags of the daemon: those of src/main.ts's first line (`#!/usr/bin/env -S node <flags>`), read from the build. */
export function daemonNodeFlags(): string[] {
  const first = readFileSync(path.resolve(__dirname, '../../src/main.js'), 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)$/.exec(first);
  if (!m) throw new Error(`dist/src/main.js: unexpected first line ${JSON.stringify(first)}`);
  return m[1]!.split(' ').filter(Boolean);
}

/**
 * The environment every launcher we ship gives the daemon (README "Memory"):
 * glibc malloc tunables that keep freed buffers from staying in RSS.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=32768' };
