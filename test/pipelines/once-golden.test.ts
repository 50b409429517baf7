/**
 * The whole page, golden: `--once` over each fixture /proc prints the full exposition
 * (target_info, HELP, TYPE and UNIT lines, family order, label order, every namedprocess
 * family, the port families, the self-metrics), and it must equal the checked-in
 * test/fixtures/golden/<case>.prom line for line after two normalisations, both below:
 * VOLATILE drops the sample lines that depend on time or on the test host, and the series of
 * each family are sorted. A mismatch fails with a unified diff; `UPDATE_GOLDEN=1 npm test`
 * rewrites the files. promtool must accept every page.
 *
 * The daemon runs in namespaces of its own (helpers/isolated-once): nothing listens on the
 * fixtures' ports there except what a case opens, and /etc/passwd is the fixture's, so the
 * page is the same on every host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PORT_FAMILIES } from '../../src/metrics/contract';
import { NAMEDPROCESS_FAMILIES } from '../../src/metrics/namedprocess';
import { checkGolden } from '../helpers/golden';
import { isolatedOnce, type IsolatedListener } from '../helpers/isolated-once';
import { MAIN_JS, promtoolFindings, repoPath, which } from '../helpers/pipelines';

const FIXTURES = repoPath('test', 'fixtures');
const GOLDEN_DIR = path.join(FIXTURES, 'golden');

/**
 * The one pattern of volatile sample lines: what differs from run to run or from host to
 * host although the fixture is the same. Only sample lines match (never # HELP/TYPE/UNIT), so
 * these families' metadata stays in the golden page.
 */
const VOLATILE = new RegExp(
  '^(?:' +
    [
      // the Node.js version running the test
      'otel_host_receiver_build_info\\{',
      // how long each stage took, and when it ran
      'otel_host_receiver_stage_duration_seconds\\{',
      'otel_host_receiver_stage_last_run_timestamp_seconds\\{',
      // the daemon's own process and runtime: CPU, memory, start time, fds, heap, loop delay
      'process_[a-z_]+ ',
      'nodejs_[a-z_0-9]+ ',
      // a connect time that is not 0 (the port answered: the time is a measurement)
      'node_tcp_port_response_seconds\\{[^}]*\\} (?!0$)',
    ].join('|') +
    ')',
);

/** Resource attributes that otherwise come from the test host (host name, /etc/machine-id). */
const HOST = 'service.instance.id=golden-host,host.name=golden-host,host.id=0123456789abcdef0123456789abcdef';

/**
 * Drops VOLATILE lines and sorts the series within each family. The text format gives the
 * order of series in a family no meaning, and the SDK emits them in first-recorded order,
 * which for the per-stage series depends on which concurrent stage finished first.
 */
export function normalise(page: string): string {
  const out: string[] = [];
  let series: string[] = [];
  const flush = (): void => {
    out.push(...series.sort());
    series = [];
  };
  for (const line of page.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      flush();
      out.push(line);
    } else if (!VOLATILE.test(line)) {
      series.push(line);
    }
  }
  flush();
  return out.join('\n') + '\n';
}

interface Case {
  name: string;
  /** procfs root, under test/fixtures. */
  procfs: string;
  /** A git symlink in that tree: a checkout with core.symlinks=false turns it into a file. */
  symlink: string;
  args?: string[];
  /** Services listening inside the namespace on fixture ports, so that probes can succeed. */
  listeners?: IsolatedListener[];
}

const CASES: Case[] = [
  {
    // ports: v4+v6 on one port, shared sockets, exclusion, unowned sockets, UDP; nginx's
    // 127.0.0.1:38080 answers HTTP, :38081 accepts but is not HTTP, sshd's 38014 is closed
    name: 'proc-basic',
    procfs: 'proc-basic',
    symlink: '100/fd/3',
    listeners: [
      { host: '127.0.0.1', port: 38080, kind: 'http' },
      { host: '::', port: 38081, kind: 'tcp' },
    ],
  },
  {
    // every namedprocess family, with process_names rules (templates, Username, Matches)
    name: 'proc-process-config',
    procfs: 'proc-process/proc',
    symlink: '100/fd/3',
    args: [`--config.path=${path.join(FIXTURES, 'proc-process', 'config', 'groups.yaml')}`],
    listeners: [{ host: '0.0.0.0', port: 8080, kind: 'http' }],
  },
  {
    // the default grouping, one group per process (<comm>_<pid>)
    name: 'proc-process-per-pid',
    procfs: 'proc-process/proc',
    symlink: '100/fd/3',
  },
  {
    // the minimal slice of the README's --once example: its one port is closed (0)
    name: 'proc-pipelines',
    procfs: 'proc-pipelines/proc',
    symlink: '4242/fd/3',
  },
];

const pages = new Map<string, string>();

for (const c of CASES) {
  test(`--once over test/fixtures/${c.procfs}: the whole page equals golden/${c.name}.prom`, async (t) => {
    const root = path.join(FIXTURES, c.procfs);
    assert.ok(fs.lstatSync(path.join(root, c.symlink)).isSymbolicLink(), `${c.procfs}/${c.symlink} must be a symlink (git core.symlinks=false breaks the fixture)`);
    const run = isolatedOnce({
      binds: [[path.join(FIXTURES, 'proc-process', 'etc', 'passwd'), '/etc/passwd']],
      listeners: c.listeners,
      // a generous probe timeout: a refused connect fails at once, and a loaded machine must not turn a listener's 1 into 0
      argv: [MAIN_JS, '--once', `--path.procfs=${root}`, '--log.level=warn', '--port.check-timeout=10s', `--resource.attributes=${HOST}`, ...(c.args ?? [])],
    });
    assert.equal(run.status, 0, `--once exited with ${run.status}: ${run.stderr}`);
    const page = run.stdout;

    const diff = checkGolden(path.join(GOLDEN_DIR, `${c.name}.prom`), normalise(page));
    if (diff !== '') assert.fail(`the page differs from its golden file:\n${diff}`);
    pages.set(c.name, page);

    await t.test('promtool check metrics: no finding but the contract-mandated thread_count lint', { skip: which('promtool') ? false : 'promtool not installed (Debian package prometheus)' }, () => {
      assert.deepEqual(promtoolFindings(page), []);
    });
  });
}

test('the golden pages hold a sample of every port and namedprocess family, and VOLATILE removes no other family', () => {
  assert.equal(pages.size, CASES.length, 'every case above ran');
  const normalised = [...pages.values()].map(normalise).join('\n');
  const sampled = new Set(normalised.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.slice(0, l.search(/[{ ]/))));
  for (const spec of [...Object.values(PORT_FAMILIES), ...Object.values(NAMEDPROCESS_FAMILIES)]) {
    assert.ok(sampled.has(spec.name), `no deterministic sample of ${spec.name} in any golden page`);
  }
  // families whose every sample is volatile: exactly the ones the pattern names
  const all = [...pages.values()].join('\n');
  const families = new Set(all.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
  const emptied = [...families].filter((f) => !sampled.has(f)).sort();
  assert.deepEqual(emptied, [
    'nodejs_array_buffers_bytes',
    'nodejs_eventloop_delay_p99_seconds',
    'nodejs_external_memory_bytes',
    'nodejs_heap_total_bytes',
    'nodejs_heap_used_bytes',
    'otel_host_receiver_build_info',
    'otel_host_receiver_stage_duration_seconds',
    'otel_host_receiver_stage_last_run_timestamp_seconds',
    'process_cpu_seconds_total',
    'process_open_fds',
    'process_resident_memory_bytes',
    'process_start_time_seconds',
  ]);
});
