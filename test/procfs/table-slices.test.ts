/**
 * ProcFs.readTextSlices, the table reader: line-aligned slices whose
 * concatenation is the file, a cap, refusal of non-regular files, and a
 * 25 MB socket table parsed with bounded memory (measured in a child
 * process, where peak RSS belongs to the read alone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { NotRegularFileError, ProcFs, isVanished } from '../../src/procfs/proc-fs';
import { parseSocketTable } from '../../src/procfs/net-sockets';

function withTree(fn: (dir: string, fs: ProcFs) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ohr-slices-'));
    try {
      await fn(dir, new ProcFs(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

async function collect(fs: ProcFs, rel: string, limit?: number, slice?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const piece of fs.readTextSlices(rel, limit, slice)) out.push(piece);
  return out;
}

test(
  'readTextSlices: pieces end on line boundaries and join to the whole file, whatever the slice size',
  withTree(async (dir, fs) => {
    const lines = ['header line', '', 'a', 'bb bb', 'x'.repeat(37), 'tail without newline'];
    const text = lines.join('\n');
    writeFileSync(path.join(dir, 't'), text);
    for (let slice = 1; slice <= text.length + 1; slice++) {
      const pieces = await collect(fs, 't', undefined, slice);
      assert.equal(pieces.join(''), text, `slice ${slice}`);
      for (const p of pieces.slice(0, -1)) assert.ok(p.endsWith('\n'), `slice ${slice}: ${JSON.stringify(p)} is cut mid-line`);
    }
    writeFileSync(path.join(dir, 'empty'), '');
    assert.deepEqual(await collect(fs, 'empty'), []);
  }),
);

test(
  'readTextSlices: the cap bounds what is read; an over-long line keeps its head',
  withTree(async (dir, fs) => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
    writeFileSync(path.join(dir, 't'), text);
    assert.equal((await collect(fs, 't', 500, 64)).join(''), text.slice(0, 500));

    // a 100 kB "line": its first 4096 bytes survive, the next line is intact, nothing grows without bound
    writeFileSync(path.join(dir, 'long'), `first\n${'A'.repeat(100_000)}\nnext\n`);
    const pieces = await collect(fs, 'long', undefined, 1000);
    const joined = pieces.join('');
    assert.ok(joined.startsWith(`first\n${'A'.repeat(4096)}`));
    assert.ok(joined.endsWith('\nnext\n'));
    assert.ok(joined.length < 4096 + 2 * 1000 + 20, `kept ${joined.length} characters`);
  }),
);

test(
  'readTextSlices: a directory is refused as not a regular file; a missing file is ENOENT',
  withTree(async (dir, fs) => {
    mkdirSync(path.join(dir, 'net', 'tcp'), { recursive: true });
    await assert.rejects(collect(fs, 'net/tcp'), (err: unknown) => err instanceof NotRegularFileError && err.message.includes('net/tcp'));
    await assert.rejects(collect(fs, 'net/udp'), (err: unknown) => isVanished(err));
  }),
);

/** Line i of the synthetic table, in the kernel's layout (149 characters and a newline). */
function tableLine(i: number, listen: boolean, inode: number): string {
  const port = (1024 + (i % 60000)).toString(16).toUpperCase().padStart(4, '0');
  const remote = listen ? '00000000:0000' : `0100007F:${(40000 + (i % 20000)).toString(16).toUpperCase()}`;
  const st = listen ? '0A' : inode > 0 ? '01' : '06';
  return `${String(i).padStart(4)}: 0100007F:${port} ${remote} ${st} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0`.padEnd(149) + '\n';
}

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'.padEnd(149) + '\n';
const LINES = 175_000; // 26.25 MB, like a busy host's TIME_WAIT table
/** Peak RSS growth allowed for reading the table (whole-table reads took 80 to 130 MiB here; sliced reads ~14). */
const RSS_BOUND_MIB = 48;

test('a 25 MB net/tcp is parsed correctly with bounded memory (discovery and netstat readers)', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ohr-bigtable-'));
  try {
    mkdirSync(path.join(dir, 'net'));
    // every 10,000th line listens; the netstat reader wants every 997th line and every line that
    // holds a 64 KiB boundary of the file, so slices that cut lines in two are exercised
    const listenAt = new Set<number>();
    const wantedAt = new Set<number>();
    for (let i = 4321; i < LINES; i += 10_000) listenAt.add(i);
    for (let i = 7; i < LINES; i += 997) wantedAt.add(i);
    for (let off = 65536; off < HEADER.length + LINES * 150; off += 65536) wantedAt.add(Math.floor((off - HEADER.length) / 150));
    wantedAt.add(LINES - 1);
    for (const i of listenAt) wantedAt.delete(i);
    const inodeOf = (i: number): number => (listenAt.has(i) ? 5_000_000 + i : wantedAt.has(i) ? 7_000_000 + i : 0);
    const parts = [HEADER];
    for (let i = 0; i < LINES; i++) parts.push(tableLine(i, listenAt.has(i), inodeOf(i)));
    const text = parts.join('');
    writeFileSync(path.join(dir, 'net', 'tcp'), text);
    // the expected sockets, from the whole text through the line parser
    const all = parseSocketTable('tcp', text);
    const expectListening = all.filter((s) => s.state === 10).map((s) => `${s.inode}:${s.localPort}`);
    const expectFound = all.filter((s) => s.inode >= 7_000_000).map((s) => `${s.inode}:${s.localPort}`);
    assert.equal(expectListening.length, listenAt.size);
    assert.equal(expectFound.length, wantedAt.size);

    const child = path.join(__dirname, '..', 'helpers', 'table-memory-child.js');
    const run = spawnSync(process.execPath, [child, dir, JSON.stringify([...wantedAt].map(inodeOf))], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    assert.equal(run.status, 0, `child failed (${run.signal ?? run.status}): ${run.stderr}`);
    const r = JSON.parse(run.stdout) as { listening: string[]; found: string[]; listeningRssMiB: number; scanRssMiB: number };
    t.diagnostic(`peak RSS growth: discovery read ${r.listeningRssMiB.toFixed(1)} MiB, netstat scan ${r.scanRssMiB.toFixed(1)} MiB`);
    assert.deepEqual(r.listening.sort(), expectListening.sort());
    assert.deepEqual(r.found.sort(), expectFound.sort());
    assert.ok(r.listeningRssMiB < RSS_BOUND_MIB, `discovery read raised peak RSS by ${r.listeningRssMiB.toFixed(1)} MiB`);
    assert.ok(r.scanRssMiB < RSS_BOUND_MIB, `netstat scan raised peak RSS by ${r.scanRssMiB.toFixed(1)} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readTextSlices on a real multi-page /proc table stops at its end without losing a row (300 listeners, ~45 KB)', async () => {
  const { startListener } = await import('../helpers/processes');
  const { readFileSync } = await import('node:fs');
  const child = await startListener('many:300', '127.0.0.1', 0, 'ohr-slices');
  try {
    const fs = new ProcFs('/proc');
    const dir = `${child.pid}/net/tcp`;
    const listening = (text: string): string[] =>
      parseSocketTable('tcp', text, 'listening').map((s) => `${s.localAddress}:${s.localPort}/${s.inode}`).sort();
    const viaSlices = listening((await collect(fs, dir)).join(''));
    const viaNode = listening(readFileSync(`/proc/${dir}`, 'latin1'));
    assert.ok(viaSlices.length >= 300, `${viaSlices.length} rows`);
    assert.deepEqual(viaSlices, viaNode);
    for (const p of child.ports) assert.ok(viaSlices.some((r) => r.startsWith(`127.0.0.1:${p}/`)), `port ${p}`);
  } finally {
    await child.kill();
  }
});
