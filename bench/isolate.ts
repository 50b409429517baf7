/**
 * The bench and the soak measure the daemon in a setting they build (1,000
 * processes and 3,000 ports; churn and 3,000 ports), but the daemon sees every
 * process and socket of the host: on a machine where other test suites run,
 * their processes and listeners would be measured too (the memory and the
 * scrape time grow with both). So, as root, they run again inside a pid and a
 * network namespace of their own (`unshare --pid --fork --mount-proc --net`,
 * the loopback brought up with `ip`): /proc then shows only the processes they
 * start, the socket tables only their sockets, and everything stays on a
 * loopback no one else uses. When the namespace's init exits, the kernel
 * kills whatever is left in it (and `--kill-child` takes the namespace down when
 * unshare itself is interrupted). `--no-isolate` runs on the host instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Passed to the run inside the namespaces (first, so that a soak's `-- <daemon flags>` stay last). */
export const INSIDE_FLAG = '--in-own-namespaces';
export const NO_ISOLATE_FLAG = '--no-isolate';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p));
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));

/** How this run sees the host, for the report. */
export function settingOf(argv: readonly string[]): string {
  return argv.includes(INSIDE_FLAG)
    ? 'own pid and network namespaces (only the processes and sockets this run starts are visible)'
    : "the host's namespaces (every process and socket of the host is seen and measured too)";
}

/**
 * Runs `script` again inside its own namespaces and returns its exit status,
 * or returns undefined when this process is the one to run the work: already
 * inside, `--no-isolate`, or isolation is not possible here (then says why).
 */
export function runIsolated(script: string, argv: readonly string[]): number | undefined {
  if (argv.includes(INSIDE_FLAG)) return undefined;
  if (argv.includes(NO_ISOLATE_FLAG)) return undefined;
  const why =
    process.getuid?.() !== 0 ? 'not root' : !UNSHARE ? 'no unshare (util-linux)' : !IP ? 'no ip (iproute2)' : undefined;
  const ns = [UNSHARE!, '--pid', '--fork', '--mount-proc', '--net', '--kill-child'];
  if (why === undefined) {
    const probe = spawnSync(ns[0]!, [...ns.slice(1), IP!, 'link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 20_000 });
    if (probe.status === 0) {
      const args = [...ns.slice(1), 'bash', '-c', `${IP} link set lo up && "$@"; exit $?`, 'bash', process.execPath, ...process.execArgv, script, INSIDE_FLAG, ...argv];
      const r = spawnSync(ns[0]!, args, { stdio: 'inherit' });
      if (r.error) throw r.error;
      return r.status ?? 1;
    }
    process.stdout.write(`not isolated: unshare failed (${probe.stderr.trim() || `status ${probe.status}`}); running in the host's namespaces\n`);
    return undefined;
  }
  process.stdout.write(`not isolated (${why}): running in the host's namespaces\n`);
  return undefined;
}
