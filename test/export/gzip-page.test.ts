/**
 * gzip on /metrics: a page assembled from families deflated one by one must be
 * one valid gzip member, checked by consumers we did not write (the gzip CLI,
 * which verifies the CRC-32 and the length; curl; Node's zlib), and must hold
 * exactly the text the identity page holds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { acceptsGzip, crc32, crc32Combine, crc32Js, deflatePiece, deflatePieceSync, gzipMember } from '../../src/export/gzip-page';
import type { Daemon } from '../../src/daemon';
import { startInProcessDaemon } from '../helpers/hardening';
import { startListener, type Child } from '../helpers/processes';
import { tempDir } from '../helpers/tmp';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Decompresses with the gzip CLI: stdout, and its exit status (non-zero on a bad CRC or length). */
function gunzipCli(body: Buffer): { status: number | null; out: Buffer; err: string } {
  const r = spawnSync('gzip', ['-dc'], { input: body, maxBuffer: 64 * 2 ** 20 });
  return { status: r.status, out: r.stdout, err: r.stderr.toString() };
}

describe('CRC-32', () => {
  test('the check value of CRC-32/ISO-HDLC, in JS and through zlib', () => {
    assert.equal(crc32Js(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    const data = randomBytes(100_000);
    assert.equal(crc32Js(data), crc32(data));
    assert.equal(crc32Js(data.subarray(5000), crc32Js(data.subarray(0, 5000))), crc32Js(data));
  });

  test('crc32Combine gives the CRC of the concatenation, for every split, empty parts and long ones', () => {
    const data = randomBytes(3 * 2 ** 20 + 17);
    for (const cut of [0, 1, 2, 3, 7, 8, 255, 256, 65_536, 2 ** 20, data.length - 1, data.length]) {
      const a = data.subarray(0, cut);
      const b = data.subarray(cut);
      assert.equal(crc32Combine(crc32Js(a), crc32Js(b), b.length), crc32Js(data), `cut at ${cut}`);
    }
    // many small pieces in a row, as a page of families is
    let crc = 0;
    let at = 0;
    for (let n = 1; at < 200_000; n = (n * 7 + 3) % 4099) {
      const piece = data.subarray(at, at + n);
      crc = crc32Combine(crc, crc32Js(piece), piece.length);
      at += piece.length;
    }
    assert.equal(crc, crc32Js(data.subarray(0, at)));
  });
});

describe('a gzip member from pieces deflated on their own', () => {
  const texts = [
    Buffer.from('# HELP a_total A.\n# TYPE a_total counter\na_total 1\n'),
    Buffer.alloc(0),
    Buffer.from('x'.repeat(200_000) + '\n'),
    Buffer.from(Array.from({ length: 5000 }, (_, i) => `node_tcp_port_alive{port="${i}"} 1\n`).join('')),
    randomBytes(70_000), // incompressible: stored blocks inside a piece
  ];
  const whole = Buffer.concat(texts);

  test('the gzip CLI and zlib read it back, CRC and length checked', async () => {
    const pieces = [deflatePieceSync(texts[0]!), ...(await Promise.all(texts.slice(1).map((t) => deflatePiece(t))))];
    const body = Buffer.concat(gzipMember(pieces));
    assert.ok(body.length < whole.length / 2, `compressed ${body.length} of ${whole.length}`);
    assert.deepEqual(zlib.gunzipSync(body), whole);
    if (has('gzip')) {
      const r = gunzipCli(body);
      assert.equal(r.status, 0, r.err);
      assert.deepEqual(r.out, whole);
    }
  });

  test('a wrong CRC or length is refused by the gzip CLI (the check above can fail)', { skip: !has('gzip') && 'no gzip CLI' }, async () => {
    const pieces = await Promise.all(texts.map((t) => deflatePiece(t)));
    const good = Buffer.concat(gzipMember(pieces));
    for (const at of [good.length - 8, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] = bad[at]! ^ 0x01;
      const r = gunzipCli(bad);
      assert.notEqual(r.status, 0, `a flipped byte at ${at} from the end went unnoticed`);
    }
  });

  test('no pieces is an empty text', () => {
    assert.equal(zlib.gunzipSync(Buffer.concat(gzipMember([]))).length, 0);
  });
});

test('Accept-Encoding: gzip by name or by *, never at q=0', () => {
  const yes = ['gzip', 'gzip, deflate, br', 'deflate, GZIP;q=0.5', 'x-gzip', '*', 'br, *;q=0.1', 'gzip;q=1.0, identity; q=0.5, *;q=0'];
  const no = [undefined, '', 'identity', 'deflate, br', 'gzip;q=0', 'gzip; q=0.000', '*;q=0', 'gzip;q=0, *', 'gzip;q=abc'];
  for (const h of yes) assert.equal(acceptsGzip(h), true, String(h));
  for (const h of no) assert.equal(acceptsGzip(h), false, String(h));
});

function fetchRaw(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** The lines of the port families (cached producer families), which do not change between two scrapes here. */
const portLines = (page: string): string[] => page.split('\n').filter((l) => /^(# (HELP|TYPE) )?node_tcp_port/.test(l));

describe('/metrics in gzip', () => {
  let daemon: Daemon;
  let base: string;
  let listener: Child;
  before(async () => {
    listener = await startListener('many:50', '127.0.0.1', 0, 'ohr-gzip-test');
    ({ daemon, base } = await startInProcessDaemon([]));
  });
  after(async () => {
    await daemon.stop();
    await listener.kill();
  });

  test('asked for gzip, the page is gzip with the identity page\'s text; refused (q=0), it is not', async () => {
    const plain = await fetchRaw(`${base}/metrics`, {});
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    const gz = await fetchRaw(`${base}/metrics`, { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'Accept-Encoding');
    assert.equal(Number(gz.headers['content-length']), gz.body.length);
    assert.ok(gz.body.length * 4 < plain.body.length, `gzip ${gz.body.length} B, identity ${plain.body.length} B`);
    const text = zlib.gunzipSync(gz.body).toString('utf8');
    const lines = portLines(text);
    assert.ok(lines.filter((l) => l.startsWith('node_tcp_port_alive{')).length >= 50, 'the listener\'s 50 ports are on the gzip page');
    assert.deepEqual(lines, portLines(plain.body.toString('utf8')));
    assert.match(text, /^target_info\{/m);
    assert.match(text, /^nodejs_heap_used_bytes \d/m);
    const refused = await fetchRaw(`${base}/metrics`, { 'Accept-Encoding': 'gzip;q=0, identity' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.deepEqual(portLines(refused.body.toString('utf8')), lines);
  });

  test('a filtered page in gzip holds only the families asked for', async () => {
    const gz = await fetchRaw(`${base}/metrics?collect[]=ports`, { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.status, 200);
    const text = zlib.gunzipSync(gz.body).toString('utf8');
    const plain = (await fetchRaw(`${base}/metrics?collect[]=ports`, {})).body.toString('utf8');
    assert.deepEqual(portLines(text), portLines(plain));
    assert.doesNotMatch(text, /^nodejs_heap_used_bytes/m);
  });

  test('curl --compressed and the gzip CLI read the page', { skip: (!has('curl') || !has('gzip')) && 'curl or gzip missing' }, async () => {
    // the daemon runs in this process: curl must run asynchronously, or nobody answers it
    const run = promisify(execFile);
    const dir = tempDir('gzip');
    const file = path.join(dir.dir, 'page.gz');
    await run('curl', ['-sS', '--max-time', '20', '-H', 'Accept-Encoding: gzip', '-o', file, `${base}/metrics`]);
    assert.equal(spawnSync('gzip', ['-t', file]).status, 0, 'gzip -t accepts the page curl saved');
    const { stdout } = await run('curl', ['-sS', '--max-time', '20', '--compressed', `${base}/metrics`], { maxBuffer: 64 * 2 ** 20 });
    assert.ok(portLines(stdout).filter((l) => l.startsWith('node_tcp_port_alive{')).length >= 50, 'curl --compressed decoded the whole page');
    dir.remove();
  });
});
