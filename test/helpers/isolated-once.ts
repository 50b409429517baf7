/**
 * Runs `node dist/src/main.js --once ...` inside fresh user, network and mount namespaces, so
 * that a fixture /proc gives the same exposition on every host:
 *
 * - network: the probes connect to the fixture's ports on loopback. In the host's network a
 *   port such as 8080 may be held by anything; in a namespace of our own nothing listens
 *   except the listeners this runner opens, so every probe answer is known in advance;
 * - mount: the process metrics name users from /etc/passwd (the only host file they read
 *   outside procfs, as process-exporter does); a bind mount puts the fixture's passwd there,
 *   seen by this runner and its child only.
 *
 * `isolatedOnce()` is the test side; run as a script (under `unshare`), this file is the
 * inside: it brings up lo, mounts, listens, runs the daemon, and passes its stdout, stderr
 * and exit code through.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';

export interface IsolatedListener {
  host: string;
  port: number;
  /** http: answers 200 to every request; tcp: accepts and closes (not HTTP). */
  kind: 'http' | 'tcp';
}

export interface IsolatedRun {
  /** Files bind-mounted over host paths: [fixture file, host path]. */
  binds?: [string, string][];
  listeners?: IsolatedListener[];
  /** main.js and its arguments. */
  argv: string[];
}

/** Exit code of the inside for a failed set-up, apart from the daemon's own codes. */
const SETUP_FAILED = 125;

/** The namespaces: user (mapped to root inside, so no privilege is needed outside), network, mount. */
const UNSHARE = ['--user', '--map-root-user', '--net', '--mount'];

/** Runs `run` in new namespaces and returns what the daemon printed; throws when the namespaces cannot be made. */
export function isolatedOnce(run: IsolatedRun, timeoutMs = 60_000): SpawnSyncReturns<string> {
  const r = spawnSync('unshare', [...UNSHARE, process.execPath, __filename, JSON.stringify(run)], { encoding: 'utf8', timeout: timeoutMs });
  if (r.error) throw new Error(`unshare ${UNSHARE.join(' ')} could not run (util-linux): ${r.error.message}`);
  // unshare itself failed: user namespaces off (kernel.unprivileged_userns_clone, a container's seccomp profile)
  if (/^unshare: /m.test(r.stderr)) throw new Error(`cannot create user, network and mount namespaces on this host: ${r.stderr.trim()}`);
  if (r.status === SETUP_FAILED) throw new Error(`could not set up the namespaces: ${r.stderr.trim()}`);
  return r;
}

function must(what: string, r: SpawnSyncReturns<string>): void {
  if (r.status !== 0) {
    process.stderr.write(`${what}: ${r.error?.message ?? r.stderr}\n`);
    process.exit(SETUP_FAILED);
  }
}

async function inside(run: IsolatedRun): Promise<void> {
  must('ip link set lo up (iproute2)', spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8' }));
  for (const [from, to] of run.binds ?? []) must(`mount --bind ${from} ${to}`, spawnSync('mount', ['--bind', from, to], { encoding: 'utf8' }));
  const servers: net.Server[] = [];
  for (const l of run.listeners ?? []) {
    const server =
      l.kind === 'http'
        ? http.createServer((_req, res) => res.end('ok\n'))
        : net.createServer((s) => {
            s.on('error', () => undefined);
            s.end();
          });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: l.host, port: l.port }, resolve);
    }).catch((err: Error) => {
      process.stderr.write(`listen ${l.host}:${l.port}: ${err.message}\n`);
      process.exit(SETUP_FAILED);
    });
    servers.push(server);
  }
  const child = spawn(process.execPath, run.argv, { stdio: 'inherit' });
  child.once('exit', (code, signal) => {
    for (const s of servers) s.close();
    process.exit(code ?? (signal ? 128 : 1));
  });
}

if (require.main === module) {
  void inside(JSON.parse(process.argv[2] ?? '{}') as IsolatedRun);
}
