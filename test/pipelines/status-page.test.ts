/**
 * The status page in a real browser (headless Chromium, `--dump-dom`: the DOM after scripts
 * ran and the page finished loading). A port this test opens must show up with its process;
 * hostile process names and executable paths - real ones, from /proc, and worse ones in a
 * page rendered from crafted data - must show as text and run nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processGroups, renderStatusPage, statusData, type StatusData } from '../../src/export/status-page';
import { loadConfig, type Config } from '../../src/config/options';
import { Daemon as InProcessDaemon } from '../../src/daemon';
import { silentLogger } from '../../src/log';
import { PORT_FAMILIES, type FamilySpec } from '../../src/metrics/contract';
import { get } from '../helpers/http';
import { chromiumDumpDom, htmlText, nodeAt, repoPath, startDaemon, type Daemon } from '../helpers/pipelines';
import { startListener, type Child } from '../helpers/processes';
import { tempDir } from '../helpers/tmp';
import { waitFor } from '../helpers/wait';

const TITLE = 'otel-host-receiver';

/** The cells of the row of table `tableId` whose cell `col` reads `key` (cells decoded to text). */
function row(dom: string, tableId: string, col: number, key: string): string[] | undefined {
  const table = new RegExp(`<table id="${tableId}">([\\s\\S]*?)</table>`).exec(dom)?.[1];
  assert.ok(table, `no table #${tableId} in the page`);
  for (const tr of table.match(/<tr>[\s\S]*?<\/tr>/g) ?? []) {
    const cells = (tr.match(/<td[^>]*>[\s\S]*?<\/td>/g) ?? []).map(htmlText);
    if (cells[col] === key) return cells;
  }
  return undefined;
}

/** Elements the page never contains itself; any of them in the DOM came from injected text. */
function injectedElements(dom: string): string[] {
  return dom.match(/<(script|img|svg|iframe|b|object|embed)\b[^>]*>/gi) ?? [];
}

describe('status page in headless Chromium', { timeout: 120_000 }, () => {
  let daemon: Daemon;
  let svc: Child;
  let hostile: Child;
  // comm (15 bytes max): markup and both quote characters
  const hostileComm = `<b>"x'&</b>`;
  let hostileExe: string;

  before(async () => {
    // An executable path that is live markup if a page forgets to escape it: a hard link to
    // node inside a directory named like an <img> tag with an onerror handler.
    const dir = path.join(tempDir('status').dir, `<img src=x onerror="document.title='pwned'">`);
    hostileExe = nodeAt(dir);
    svc = await startListener('http', '127.0.0.1', 0, 'pl-status-svc');
    hostile = await startListener('banner', '127.0.0.1', 0, hostileComm, { execPath: hostileExe });
    daemon = await startDaemon();
    await waitFor('both listeners probed and in /api/status', async () => {
      const r = await get(`${daemon.baseUrl}/api/status`);
      const s = JSON.parse(r.body) as StatusData;
      const mine = s.ports.find((p) => p.port === svc.ports[0]);
      const evil = s.ports.find((p) => p.port === hostile.ports[0]);
      return mine?.tcpAlive === 1 && mine.isHttp && evil?.tcpAlive === 1 ? true : undefined;
    }, 45_000);
  });

  after(async () => {
    await daemon?.stop();
    await svc?.kill();
    await hostile?.kill();
  });

  it('shows the port the test opened, with protocol, process name, executable, pid and state', async () => {
    const dom = await chromiumDumpDom(`${daemon.baseUrl}/`);
    assert.match(dom, new RegExp(`<title>${TITLE}</title>`));
    const cells = row(dom, 'ports', 1, String(svc.ports[0]));
    assert.ok(cells, `port ${svc.ports[0]} is not on the page`);
    const [proto, , processName, exe, pid, boundOn, state, connect, httpState] = cells;
    assert.equal(proto, 'tcp');
    assert.equal(processName, 'pl-status-svc');
    assert.equal(exe, fs.realpathSync(process.execPath));
    assert.equal(pid, String(svc.pid));
    assert.equal(boundOn, '127.0.0.1');
    assert.equal(state, 'up');
    assert.match(connect!, /^\d+\.\d+ ms$/);
    assert.equal(httpState, 'up');
    // its process in the processes table
    const proc = row(dom, 'processes', 0, 'pl-status-svc');
    assert.ok(proc);
    assert.equal(proc[3], 'up');
  });

  it('shows the test process as a process group with its figures (needs the namedprocess collector)', async () => {
    // One group per process, named <comm>_<pid> (the default grouping).
    const group = `pl-status-svc_${svc.pid}`;
    await waitFor(`group ${group} in /api/status`, async () => {
      const s = JSON.parse((await get(`${daemon.baseUrl}/api/status`)).body) as StatusData;
      return s.groups.some((g) => g.groupname === group) ? true : undefined;
    }, 20_000);
    const dom = await chromiumDumpDom(`${daemon.baseUrl}/?groups=all`);
    const cells = row(dom, 'groups', 0, group);
    assert.ok(cells, `group ${group} is not on the page`);
    const [, procs, threads, cpu, resident, virt, fds, fdRatio] = cells;
    assert.equal(procs, '1');
    assert.match(threads!, /^\d+$/);
    assert.match(cpu!, /^\d+\.\d\d s$/);
    assert.match(resident!, /^\d+\.\d (KiB|MiB|GiB)$/);
    assert.match(virt!, /^\d+\.\d (MiB|GiB|TiB)$/);
    assert.ok(Number(fds) > 0, `open fds ${fds}`);
    assert.match(fdRatio!, /^\d+\.\d %$/);
  });

  it('a hostile process name and executable path from /proc are shown as text, nothing runs', async () => {
    assert.equal(fs.readlinkSync(`/proc/${hostile.pid}/exe`), hostileExe, 'precondition: /proc shows the hostile exe path');
    assert.equal(fs.readFileSync(`/proc/${hostile.pid}/comm`, 'utf8').trimEnd(), hostileComm);
    const dom = await chromiumDumpDom(`${daemon.baseUrl}/`);
    assert.match(dom, new RegExp(`<title>${TITLE}</title>`), 'the injected onerror handler changed the title');
    assert.deepEqual(injectedElements(dom), [], 'markup from /proc became elements');
    const cells = row(dom, 'ports', 1, String(hostile.ports[0]));
    assert.ok(cells, `port ${hostile.ports[0]} is not on the page`);
    assert.equal(cells[2], hostileComm);
    assert.equal(cells[3], hostileExe);
  });

  it('a page rendered from worse values (scripts, attribute breakouts, everywhere) runs nothing', async () => {
    const payloads = [
      `<script>document.title='pwned'</script>`,
      `"><img src=x onerror="document.title='pwned'">`,
      `'><svg onload="document.title='pwned'"></svg>`,
      `</td></tr></table><iframe src="javascript:parent.document.title='pwned'"></iframe>`,
    ];
    const p = (i: number): string => payloads[i % payloads.length]!;
    const data: StatusData = {
      version: p(0),
      service: p(1),
      now: p(2),
      ports: [
        { protocol: 'tcp', port: 1, processName: p(0), exePath: p(1), pid: 7, addresses: [p(2)], tcpAlive: 1, responseSeconds: 0.001, httpAlive: 0, isHttp: true, lastCheck: p(3) },
        { protocol: 'udp', port: 2, processName: p(1), exePath: p(2), pid: 8, addresses: [p(3)], isHttp: false, udpAlive: 0 },
      ],
      processes: [{ processName: p(2), exePath: p(3), pids: [7], alive: 1 }],
      groups: [{ groupname: p(3), procs: 1, threads: 2, cpuSeconds: 1.5, residentBytes: 4096, virtualBytes: 8192, openFds: 9, worstFdRatio: 0.95 }],
      excluded: [{ protocol: 'tcp', port: 3, processName: p(3), pid: 9, reason: p(0) }],
      stages: { [p(1)]: { durationSeconds: 0.01, success: 0, lastRun: p(2), runs: 1, failures: 1, lastError: p(3) } },
      otlp: { enabled: true, endpoint: p(0), up: 0, exports: 1, failures: 1, lastError: p(1), lastSuccess: p(2) },
      discovery: { unownedSockets: 0, unreadableProcesses: 0 },
    };
    const file = path.join(tempDir('status-unit').dir, 'status.html');
    fs.writeFileSync(file, renderStatusPage(data, `/metrics"><script>document.title='pwned'</script>`));
    const dom = await chromiumDumpDom(`file://${file}`);
    assert.match(dom, new RegExp(`<title>${TITLE}</title>`), 'an injected script or handler ran');
    assert.deepEqual(injectedElements(dom), [], 'payload markup became elements');
    // Every payload is visible as text exactly as given.
    const text = htmlText(dom);
    for (const payload of payloads) assert.ok(text.includes(payload), `payload not shown as text: ${payload}`);
    assert.ok(row(dom, 'ports', 2, p(0)), 'the hostile name is a cell of the ports table');
  });
});

describe('status page: process groups', () => {
  it('come from the namedprocess_namegroup_* families the exports carry, largest first', async () => {
    const r = loadConfig([`--path.procfs=${repoPath('test', 'fixtures', 'proc-pipelines', 'proc')}`, '--metrics.exporter=prometheus'], {});
    assert.equal(r.kind, 'config');
    const d = new InProcessDaemon((r as { config: Config }).config, silentLogger);
    try {
      // Two groups as process-exporter names and labels them; specs shaped like the contract's.
      const spec = (name: string, type: 'gauge' | 'counter', labels: string[]): FamilySpec => ({ ...PORT_FAMILIES.tcpAlive, name, type, labels, group: 'namedprocess', unit: '' });
      const families = [
        { spec: spec('namedprocess_namegroup_num_procs', 'gauge', ['groupname']), points: [{ attributes: { groupname: 'small_1' }, value: 1 }, { attributes: { groupname: 'big<b>_2' }, value: 3 }] },
        { spec: spec('namedprocess_namegroup_cpu_seconds_total', 'counter', ['groupname', 'mode']), points: [
          { attributes: { groupname: 'big<b>_2', mode: 'user' }, value: 10 },
          { attributes: { groupname: 'big<b>_2', mode: 'system' }, value: 2.5 },
        ] },
        { spec: spec('namedprocess_namegroup_memory_bytes', 'gauge', ['groupname', 'memtype']), points: [
          { attributes: { groupname: 'small_1', memtype: 'resident' }, value: 1024 },
          { attributes: { groupname: 'big<b>_2', memtype: 'resident' }, value: 3 * 1024 * 1024 },
          { attributes: { groupname: 'big<b>_2', memtype: 'virtual' }, value: 1024 ** 3 },
        ] },
        { spec: spec('namedprocess_namegroup_open_filedesc', 'gauge', ['groupname']), points: [{ attributes: { groupname: 'big<b>_2' }, value: 950 }] },
        { spec: spec('namedprocess_namegroup_worst_fd_ratio', 'gauge', ['groupname']), points: [{ attributes: { groupname: 'big<b>_2' }, value: 0.95 }] },
      ];
      d.producer.addCached(families.map((f) => ({ spec: f.spec, version: () => 1, points: () => f.points })));
      const groups = processGroups(d).filter((g) => g.groupname === 'small_1' || g.groupname === 'big<b>_2');
      assert.deepEqual(groups, [
        { groupname: 'big<b>_2', procs: 3, cpuSeconds: 12.5, residentBytes: 3 * 1024 * 1024, virtualBytes: 1024 ** 3, openFds: 950, worstFdRatio: 0.95 },
        { groupname: 'small_1', procs: 1, residentBytes: 1024 },
      ]);
      const html = renderStatusPage(statusData(d), '/metrics');
      const big = row(html, 'groups', 0, 'big<b>_2');
      assert.deepEqual(big, ['big<b>_2', '3', '', '12.50 s', '3.0 MiB', '1.0 GiB', '950', '95.0 %']);
      assert.ok(!html.includes('big<b>'), 'group names are escaped');
    } finally {
      await d.stop(100);
    }
  });

  it('the page lists the 50 largest unless asked for all (/?groups=all)', () => {
    const groups = Array.from({ length: 60 }, (_, i) => ({ groupname: `g${i}_${i}`, procs: 1, residentBytes: (60 - i) * 1024 }));
    const data: StatusData = { version: '0', service: 's', now: 'n', ports: [], processes: [], groups, excluded: [], stages: {}, otlp: { enabled: false, up: 1, exports: 0, failures: 0 }, discovery: { unownedSockets: 0, unreadableProcesses: 0 } };
    const rows = (html: string): number => (/<table id="groups">([\s\S]*?)<\/table>/.exec(html)![1]!.match(/<tr><td>/g) ?? []).length;
    const page = renderStatusPage(data, '/metrics');
    assert.equal(rows(page), 50);
    assert.ok(row(page, 'groups', 0, 'g0_0') && !row(page, 'groups', 0, 'g59_59'));
    assert.match(page, /<a href="\/\?groups=all">show all 60<\/a>/);
    assert.equal(rows(renderStatusPage(data, '/metrics', { allGroups: true })), 60);
  });

  it('say so when there are none', () => {
    const html = renderStatusPage(
      { version: '0', service: 's', now: 'n', ports: [], processes: [], groups: [], excluded: [], stages: {}, otlp: { enabled: false, up: 1, exports: 0, failures: 0 }, discovery: { unownedSockets: 0, unreadableProcesses: 0 } },
      '/metrics',
    );
    assert.match(html, /<p id="groups-none">/);
  });
});
