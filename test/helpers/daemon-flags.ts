import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The V8 flags of the daemon: those of src/main.ts's first line (`#!/usr/bin/env -S node <flags>`), read from the build. */
export function daemonNodeFlags(): string[] {
  const first = readFileSync(path.resolve(__dirname, '../../src/main.js'), 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)$/.exec(first);
  if (!m) throw new Error(`dist/src/main.js: unexpected first line ${JSON.stringify(first)}`);
  return m[1]!.split(' ').filter(Boolean);
}
