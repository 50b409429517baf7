/**
 * `node dist/bench/scrape-client.js <url> gzip|identity <ms> <groups>`:
 * back-to-back scrapes of `url` on one keep-alive connection for `ms`, each
 * timed from the request to the answer's last byte (what the daemon
 * controls; decoding and parsing a page are the scraper's own work), with
 * `Accept-Encoding: gzip` or without. Every answer must be a 200 in the
 * encoding asked for, and the last one, decoded, must hold a num_procs series
 * for at least `groups` process groups. Prints {"lat": [ms...], "bytes": n}.
 * Run as a process of its own (scrapeInChild) by every latency figure of the
 * bench, so that no other work of the bench shares its event loop or its heap.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Back-to-back scrapes for `ms` by this file in a process of its own: the
 * bench process may have just parsed a heap snapshot of tens of MB or run a
 * collector in process, and its garbage collections would land in the
 * figures as if they were the daemon's latency. `groups` 0 skips the check
 * of the last page's process groups.
 */
export function scrapeInChild(url: string, gzip: boolean, ms: number, groups: number): Promise<{ lat: number[]; bytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.resolve(__dirname, 'scrape-client.js'), url, gzip ? 'gzip' : 'identity', String(ms), String(groups)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`scrape client (${gzip ? 'gzip' : 'identity'}) exited ${code}: ${err.trim()}`));
      else resolve(JSON.parse(out) as { lat: number[]; bytes: number });
    });
  });
}

async function main(url: string, gzip: boolean, ms: number, groups: number): Promise<{ lat: number[]; bytes: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const headers = gzip ? { 'Accept-Encoding': 'gzip' } : {};
  const lat: number[] = [];
  const bad: string[] = [];
  let last: Buffer | undefined;
  const until = Date.now() + ms;
  try {
    while (Date.now() < until) {
      const t = process.hrtime.bigint();
      const got = await new Promise<{ status: number; body: Buffer; encoding: string | undefined }>((resolve, reject) => {
        http
          .get(url, { agent, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), encoding: res.headers['content-encoding'] }));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (got.status !== 200 && bad.length < 5) bad.push(`HTTP ${got.status}`);
      if ((got.encoding === 'gzip') !== gzip && bad.length < 5) bad.push(`Content-Encoding ${got.encoding ?? 'none'}`);
      last = got.body;
    }
  } finally {
    agent.destroy();
  }
  if (bad.length > 0) throw new Error(bad.join('; '));
  const page = last ? (gzip ? gunzipSync(last) : last).toString('utf8') : '';
  const n = (page.match(/^namedprocess_namegroup_num_procs\{/gm) ?? []).length;
  if (n < groups) throw new Error(`the last page holds ${n} process groups, expected at least ${groups}`);
  return { lat, bytes: last?.length ?? 0 };
}

if (require.main === module) {
  const [url, encoding, ms, groups] = process.argv.slice(2);
  main(url!, encoding === 'gzip', Number(ms), Number(groups)).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
