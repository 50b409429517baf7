/**
 * Hostile names on a real page. A real child process whose executable path
 * and comm contain a double quote, backslashes, a newline, a carriage return
 * and bytes that are not UTF-8 listens on a loopback port; a real daemon scrapes it. The page
 * must still pass `promtool check metrics`, the label values must be escaped
 * (and decode back to what /proc shows), and a value longer than
 * --label.max-length must be cut.
 *
 * The executable is a hard link to the node binary (a copy when /tmp is on
 * another filesystem), started through bash so its path can hold bytes a
 * JavaScript string cannot carry to execve. Any local user can do this.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { killAndWait } from '../helpers/processes';
import { config } from '../helpers/hardening';
import { fetchUrl } from '../helpers/http';
import { tempDir } from '../helpers/tmp';
import { escapeHtml } from '../../src/export/status-page';

const MAX = 60;
let tmp: ReturnType<typeof tempDir>;
let child: ChildProcess;
let port: number;
let daemon: Daemon;
let base: string;

/** bash $'...' quoting of arbitrary bytes. */
function bashBytes(b: Buffer): string {
  return `$'${[...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('')}'`;
}

before(async () => {
  tmp = tempDir();
  // directory: quote, backslash, newline, invalid UTF-8, and length enough to exceed MAX
  const dir = Buffer.concat([Buffer.from(`${tmp.dir}/q"uo\\te\nline`), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('-' + 'd'.repeat(80))]);
  mkdirSync(dir);
  // file name (hence comm, its first 15 bytes): quote, backslash, newline, invalid UTF-8
  const exe = Buffer.concat([dir, Buffer.from('/e"v\\\n\r'), Buffer.from([0xc3, 0x28]), Buffer.from('il-srv')]);
  const node = realpathSync(process.execPath);
  try {
    linkSync(node, exe);
  } catch {
    copyFileSync(node, exe);
  }
  const script = `const s=require("net").createServer(c=>c.destroy()).listen(0,"127.0.0.1",()=>process.stdout.write("ready "+s.address().port+"\\n"))`;
  child = spawn('bash', ['-c', `exec ${bashBytes(exe)} -e "$OHR_SCRIPT"`], { env: { ...process.env, OHR_SCRIPT: script }, stdio: ['ignore', 'pipe', 'pipe'] });
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`hostile child exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`hostile child not ready: ${err}`)), 15_000).unref();
  });
  daemon = new Daemon(config([`--label.max-length=${MAX}`, '--port.status-interval=1h']), silentLogger);
  base = `http://127.0.0.1:${(await daemon.start()).port}`;
  await daemon.ready;
});

after(async () => {
  await daemon?.stop(0);
  if (child) await killAndWait(child);
  tmp?.remove();
});

const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

test('hostile comm and exe path: promtool accepts the page, labels are escaped and cut', async (t) => {
  // What /proc shows, decoded as the daemon decodes it (invalid UTF-8 -> U+FFFD)
  const comm = readFileSync(`/proc/${child.pid}/comm`, 'utf8').replace(/\n$/, '');
  const exePath = readlinkSync(`/proc/${child.pid}/exe`);
  assert.match(comm, /"/);
  assert.match(comm, /\\/);
  assert.match(comm, /\n/);
  assert.match(exePath, /\uFFFD/);
  assert.ok(exePath.length > MAX);

  const r = await fetchUrl(`${base}/metrics`);
  assert.ok(r.ok && r.res.status === 200);
  const body = r.res.body;

  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  if (promtool.error) {
    t.diagnostic(`promtool not runnable (${promtool.error.message}): that check skipped`);
  } else {
    assert.equal(promtool.status, 0, `promtool check metrics failed:\n${promtool.stdout}${promtool.stderr}`);
  }

  // every sample line parses with the text format's grammar: no label value broke out of its quotes or its line
  const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/y;
  const unescape = (v: string): string => v.replace(/\\([\\"n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
  let mine: Record<string, string> | undefined;
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^]*)\})? (\S+)$/.exec(line);
    assert.ok(m, `bad sample line ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const text = m[2] ?? '';
    let at = 0;
    while (at < text.length) {
      LABEL.lastIndex = at;
      const lm = LABEL.exec(text);
      assert.ok(lm, `bad labels at ${at} in ${JSON.stringify(line)}`);
      labels[lm[1]!] = unescape(lm[2]!);
      at = LABEL.lastIndex;
      if (text[at] === ',') at++;
    }
    if (m[1] === 'node_tcp_port_alive' && labels.port === String(port)) {
      assert.equal(mine, undefined, 'one series per port');
      mine = labels;
      assert.equal(m[3], '1');
    }
  }
  assert.ok(mine, `no node_tcp_port_alive series for port ${port}`);
  assert.equal(mine.process_name, comm);
  assert.equal(mine.exe_path, exePath.slice(0, MAX), 'cut to --label.max-length');
  assert.equal(mine.exe_path!.length, MAX);
  // and on the wire the values are escaped, not raw
  assert.ok(body.includes(`process_name="${esc(comm)}"`), 'escaped process_name on the page');
  assert.ok(body.includes(`exe_path="${esc(exePath.slice(0, MAX))}"`), 'escaped exe_path on the page');

  // the status page and its JSON carry the same names safely
  const json = await fetchUrl(`${base}/api/status`);
  assert.ok(json.ok);
  const status = JSON.parse(json.res.body) as { ports: Array<{ port: number; processName: string; exePath: string }> };
  assert.equal(status.ports.find((p) => p.port === port)?.processName, comm);
  const html = await fetchUrl(`${base}/`);
  assert.ok(html.ok);
  assert.ok(!html.res.body.includes(comm), 'raw name not in HTML');
  assert.ok(html.res.body.includes(escapeHtml(comm)), 'escaped name in HTML');
});

test('the exe path on disk really holds the hostile bytes', () => {
  const raw = readlinkSync(`/proc/${child.pid}/exe`, { encoding: 'buffer' });
  assert.ok(raw.includes(Buffer.from([0xff, 0xfe, 0x80])));
  assert.ok(raw.includes(Buffer.from('\n')));
  assert.equal(path.basename(raw.toString('latin1')).startsWith('e"v\\\n'), true);
});
