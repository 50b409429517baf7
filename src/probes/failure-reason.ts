/**
 * Why a TCP probe failed, in the five words node_tcp_port_probe_failures_total
 * uses. The errno names are the ones Node reports from connect(2) (see
 * connect(2) and tcp(7)): a RST to our SYN is ECONNREFUSED (nothing listens);
 * a RST after the handshake is ECONNRESET (a full accept queue with
 * tcp_abort_on_overflow, a firewall reject-with tcp-reset); no route or no
 * usable local address is "unreachable"; no answer within PORT_CHECK_TIMEOUT
 * (SYNs dropped: a stopped process with a full backlog, a DROP rule) is
 * "timeout". Anything else is "error".
 */
import type { FailureReason } from '../discovery/port-pool';

export { FAILURE_REASONS, type FailureReason } from '../discovery/port-pool';

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENETDOWN', 'EHOSTDOWN']);
const RESET = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE']);

/** Maps a probe's error ('refused', 'timeout' or an errno code) to its reason. */
export function failureReason(error: string | undefined): FailureReason {
  if (error === 'refused' || error === 'ECONNREFUSED') return 'refused';
  if (error === 'timeout' || error === 'ETIMEDOUT') return 'timeout';
  if (error !== undefined && UNREACHABLE.has(error)) return 'unreachable';
  if (error !== undefined && RESET.has(error)) return 'reset';
  return 'error';
}

/**
 * When several addresses were tried and all failed, the reason that says most
 * about the service wins: a refusal is often only the wrong address family
 * (the service listens on 127.0.0.1, ::1 refuses), while a timeout or a reset
 * on any address means the listener is there and not answering.
 */
const RANK: Record<FailureReason, number> = { timeout: 5, reset: 4, refused: 3, unreachable: 2, error: 1 };

export function worseReason(a: FailureReason | undefined, b: FailureReason): FailureReason {
  return a === undefined || RANK[b] > RANK[a] ? b : a;
}
