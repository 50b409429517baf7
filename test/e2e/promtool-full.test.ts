/**
 * promtool check metrics over the whole page of this host, every collector on
 * (ports, namedprocess with threads and smaps, self-metrics). The only
 * finding allowed is the one process-exporter's own contract forces on us:
 * `namedprocess_namegroup_thread_count` is a gauge whose name ends in _count
 * (process-exporter 0.7.10 draws the same lint). Any other finding or a parse
 * error fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { promtoolFindings, which } from '../helpers/pipelines';

const MAIN = path.resolve(__dirname, '../../src/main.js');

test('promtool check metrics on the full live page: only the contract-mandated thread_count lint', { skip: which('promtool') ? false : 'promtool not installed (Debian package prometheus)' }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [MAIN, '--once', '--port.check-timeout=300ms'], { maxBuffer: 256 << 20 });
  assert.match(stdout, /^namedprocess_namegroup_num_procs\{/m, 'namedprocess families present');
  assert.match(stdout, /^otel_host_receiver_build_info\{/m);
  assert.deepEqual(promtoolFindings(stdout), []);
});
