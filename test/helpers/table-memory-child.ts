/**
 * Child process of test/procfs/table-slices.test.ts: reads `<root>/net/tcp`
 * the way discovery (listening sockets) and netstat (wanted inodes) do, and
 * prints what it found and how much each read raised the peak RSS
 * (getrusage maxrss), so the figure belongs to the read alone.
 *
 * Usage: node table-memory-child.js <root> <JSON array of wanted inodes>
 */
import { ProcFs } from '../../src/procfs/proc-fs';
import { parseSocketLine, readSocketTable, type NetSocket } from '../../src/procfs/net-sockets';
import { scanSocketLines, type SocketLine } from '../../src/procfs/net-tables';

async function main(): Promise<void> {
  const [root, wantedJson] = process.argv.slice(2);
  const fs = new ProcFs(root);
  const wanted = new Set<number>(JSON.parse(wantedJson ?? '[]') as number[]);
  const base = process.resourceUsage().maxRSS;
  const listening = await readSocketTable(fs, 'tcp', 'listening');
  const afterListening = process.resourceUsage().maxRSS;
  const lines = new Map<number, SocketLine>();
  await scanSocketLines(fs, 'net', wanted, lines);
  const found = new Map<number, NetSocket>();
  for (const [inode, l] of lines) {
    const s = parseSocketLine(l.protocol, l.line);
    if (s) found.set(inode, s);
  }
  const afterScan = process.resourceUsage().maxRSS;
  process.stdout.write(
    JSON.stringify({
      listening: listening.map((s) => `${s.inode}:${s.localPort}`),
      found: [...found.values()].map((s) => `${s.inode}:${s.localPort}`),
      listeningRssMiB: (afterListening - base) / 1024,
      scanRssMiB: (afterScan - base) / 1024,
    }),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(String(err instanceof Error ? err.stack : err));
  process.exit(1);
});
