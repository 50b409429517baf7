/**
 * The process-exporter 0.7.10 families (namedprocess_namegroup_*), declared
 * once: names, types, label names and HELP are those of a live 0.7.10
 * exposition (the Debian prometheus-process-exporter package; the compat test
 * runs it beside us) so dashboards and alerts written for process-exporter
 * keep working. We add three families of our own: pid, effective_username and
 * netstat (ADDITIONS below), which a group-per-process host agent needs.
 *
 * Decisions where we differ from 0.7.10 on purpose (README compatibility table):
 * - The three scrape-error counters end in `_total`
 *   (namedprocess_scrape_errors_total, ...): 0.7.10 exposes counters without
 *   the suffix, which OpenMetrics and every OTLP -> Prometheus translator
 *   rename anyway, so one stable name is better than two.
 * - procread_errors counts every cycle's failed reads; 0.7.10 counts them only
 *   during its first update (a bug: a later EIO was invisible).
 * - Counters start from each process's real totals (0.7.10 starts processes
 *   that were running before it from zero), so a per-process group reports
 *   what the kernel reports and survives our restarts.
 *
 * Units follow contract.ts: '' unless the name ends with the unit's word
 * (`s` for *_seconds, `By` for *_bytes); `_seconds_total` counters carry 's'
 * too, since translators only append a unit word that is not already a token
 * of the name.
 */
import type { FamilySpec } from './contract';

const G = ['groupname'] as const;

export const NAMEDPROCESS_FAMILIES = {
  numProcs: {
    name: 'namedprocess_namegroup_num_procs',
    type: 'gauge',
    help: 'number of processes in this group',
    unit: '',
    labels: G,
    group: 'namedprocess',
    source: 'processes in the group',
  },
  cpuSeconds: {
    name: 'namedprocess_namegroup_cpu_seconds_total',
    type: 'counter',
    help: 'Cpu user usage in seconds',
    unit: 's',
    labels: ['groupname', 'mode'],
    group: 'namedprocess',
    source: '/proc/<pid>/stat utime (14), stime (15); ticks / 100',
  },
  readBytes: {
    name: 'namedprocess_namegroup_read_bytes_total',
    type: 'counter',
    help: 'number of bytes read by this group',
    unit: 'By',
    labels: G,
    group: 'namedprocess',
    source: '/proc/<pid>/io read_bytes',
  },
  writeBytes: {
    name: 'namedprocess_namegroup_write_bytes_total',
    type: 'counter',
    help: 'number of bytes written by this group',
    unit: 'By',
    labels: G,
    group: 'namedprocess',
    source: '/proc/<pid>/io write_bytes',
  },
  majorPageFaults: {
    name: 'namedprocess_namegroup_major_page_faults_total',
    type: 'counter',
    help: 'Major page faults',
    unit: '',
    labels: G,
    group: 'namedprocess',
    source: '/proc/<pid>/stat majflt (12)',
  },
  minorPageFaults: {
    name: 'namedprocess_namegroup_minor_page_faults_total',
    type: 'counter',
    help: 'Minor page faults',
    unit: '',
    labels: G,
    group: 'namedprocess',
    source: '/proc/<pid>/stat minflt (10)',
  },
  contextSwitches: {
    name: 'namedprocess_namegroup_context_switches_total',
    type: 'counter',
    help: 'Context switches',
    unit: '',
    labels: ['ctxswitchtype', 'groupname'],
    group: 'namedprocess',
    source: '/proc/<pid>/status voluntary_ctxt_switches, nonvoluntary_ctxt_switches (summed over /proc/<pid>/task/*/status for multi-threaded processes with --threads)',
  },
  memoryBytes: {
    name: 'namedprocess_namegroup_memory_bytes',
    type: 'gauge',
    help: 'number of bytes of memory in use',
    unit: 'By',
    labels: ['groupname', 'memtype'],
    group: 'namedprocess',
    source: 'resident: stat rss (24) x page size; virtual: stat vsize (23); swapped: status VmSwap; proportionalResident/proportionalSwapped: smaps_rollup Pss/SwapPss (--gather-smaps)',
  },
  openFiledesc: {
    name: 'namedprocess_namegroup_open_filedesc',
    type: 'gauge',
    help: 'number of open file descriptors for this group',
    unit: '',
    labels: G,
    group: 'namedprocess',
    source: 'entries in /proc/<pid>/fd',
  },
  worstFdRatio: {
    name: 'namedprocess_namegroup_worst_fd_ratio',
    type: 'gauge',
    help: 'the worst (closest to 1) ratio between open fds and max fds among all procs in this group',
    unit: '',
    labels: G,
    group: 'namedprocess',
    source: 'entries in /proc/<pid>/fd / soft "Max open files" in /proc/<pid>/limits, maximum over the group',
  },
  oldestStartTime: {
    name: 'namedprocess_namegroup_oldest_start_time_seconds',
    type: 'gauge',
    help: 'start time in seconds since 1970/01/01 of oldest process in group',
    unit: 's',
    labels: G,
    group: 'namedprocess',
    source: '/proc/stat btime + /proc/<pid>/stat starttime (22) / 100, whole seconds',
  },
  numThreads: {
    name: 'namedprocess_namegroup_num_threads',
    type: 'gauge',
    help: 'Number of threads',
    unit: '',
    labels: G,
    group: 'namedprocess',
    source: '/proc/<pid>/stat num_threads (20)',
  },
  states: {
    name: 'namedprocess_namegroup_states',
    type: 'gauge',
    help: 'Number of processes in states Running, Sleeping, Waiting, Zombie, or Other',
    unit: '',
    labels: ['groupname', 'state'],
    group: 'namedprocess',
    source: '/proc/<pid>/stat state (3), plus /proc/<pid>/task/*/stat state of multi-threaded processes with --threads (R Running, S Sleeping, D Waiting, Z Zombie, else Other)',
  },
  threadsWchan: {
    name: 'namedprocess_namegroup_threads_wchan',
    type: 'gauge',
    help: 'Number of threads in this group waiting on each wchan',
    unit: '',
    labels: ['groupname', 'wchan'],
    group: 'namedprocess',
    source: '/proc/<pid>/wchan, plus /proc/<pid>/task/*/wchan of multi-threaded processes with --threads; running tasks have none',
  },
  threadCount: {
    name: 'namedprocess_namegroup_thread_count',
    type: 'gauge',
    help: 'Number of threads in this group with same threadname',
    unit: '',
    labels: ['groupname', 'threadname'],
    group: 'namedprocess',
    source: '/proc/<pid>/task/*/stat comm (--threads; processes with 2+ threads)',
  },
  threadCpuSeconds: {
    name: 'namedprocess_namegroup_thread_cpu_seconds_total',
    type: 'counter',
    help: 'Cpu user/system usage in seconds',
    unit: 's',
    labels: ['groupname', 'mode', 'threadname'],
    group: 'namedprocess',
    source: '/proc/<pid>/task/<tid>/stat utime, stime',
  },
  threadIoBytes: {
    name: 'namedprocess_namegroup_thread_io_bytes_total',
    type: 'counter',
    help: 'number of bytes read/written by these threads',
    unit: 'By',
    labels: ['groupname', 'iomode', 'threadname'],
    group: 'namedprocess',
    source: '/proc/<pid>/task/<tid>/io read_bytes, write_bytes',
  },
  threadMajorPageFaults: {
    name: 'namedprocess_namegroup_thread_major_page_faults_total',
    type: 'counter',
    help: 'Major page faults for these threads',
    unit: '',
    labels: ['groupname', 'threadname'],
    group: 'namedprocess',
    source: '/proc/<pid>/task/<tid>/stat majflt',
  },
  threadMinorPageFaults: {
    name: 'namedprocess_namegroup_thread_minor_page_faults_total',
    type: 'counter',
    help: 'Minor page faults for these threads',
    unit: '',
    labels: ['groupname', 'threadname'],
    group: 'namedprocess',
    source: '/proc/<pid>/task/<tid>/stat minflt',
  },
  threadContextSwitches: {
    name: 'namedprocess_namegroup_thread_context_switches_total',
    type: 'counter',
    help: 'Context switches for these threads',
    unit: '',
    labels: ['ctxswitchtype', 'groupname', 'threadname'],
    group: 'namedprocess',
    source: '/proc/<pid>/task/<tid>/status voluntary_ctxt_switches, nonvoluntary_ctxt_switches',
  },
  // --- our additions (not in process-exporter)
  pid: {
    name: 'namedprocess_namegroup_pid',
    type: 'gauge',
    help: 'pid of the process in this group (the oldest member when the group has several)',
    unit: '',
    labels: G,
    group: 'namedprocess',
    source: '/proc/<pid>',
  },
  effectiveUsername: {
    name: 'namedprocess_namegroup_effective_username',
    type: 'gauge',
    help: 'effective user of the processes in this group (value is always 1)',
    unit: '',
    labels: ['groupname', 'username'],
    group: 'namedprocess',
    source: '/proc/<pid>/status Uid (effective), named through /etc/passwd; the uid when it has no entry',
  },
  netstat: {
    name: 'namedprocess_namegroup_netstat',
    type: 'gauge',
    help: 'one series per TCP/UDP socket of the group; value is the kernel socket state (1 ESTABLISHED ... 10 LISTEN; 7 for unconnected UDP)',
    unit: '',
    labels: ['groupname', 'local', 'protocol', 'remote'],
    group: 'namedprocess',
    source: '/proc/<pid>/fd/* -> socket:[inode] joined with /proc/<pid>/net/{tcp,tcp6,udp,udp6} st',
  },
  // --- scrape health (process-exporter's names plus _total)
  scrapeErrors: {
    name: 'namedprocess_scrape_errors_total',
    type: 'counter',
    help: 'general scrape errors: no proc metrics collected during a cycle',
    unit: '',
    labels: [],
    group: 'namedprocess',
    source: 'sampling cycles that failed as a whole (procfs root unreadable)',
  },
  scrapeProcReadErrors: {
    name: 'namedprocess_scrape_procread_errors_total',
    type: 'counter',
    help: "incremented each time a proc's metrics collection fails",
    unit: '',
    labels: [],
    group: 'namedprocess',
    source: 'processes whose stat or status could not be read for another reason than exiting',
  },
  scrapePartialErrors: {
    name: 'namedprocess_scrape_partial_errors_total',
    type: 'counter',
    help: "incremented each time a tracked proc's metrics collection fails partially, e.g. unreadable I/O stats",
    unit: '',
    labels: [],
    group: 'namedprocess',
    source: 'per process and cycle: io, fd, limits, wchan, smaps_rollup or task files unreadable (EACCES without root or CAP_SYS_PTRACE)',
  },
  netstatDropped: {
    name: 'namedprocess_netstat_dropped_sockets_total',
    type: 'counter',
    help: 'sockets not reported as namedprocess_namegroup_netstat series because a process had more than --process.netstat-max',
    unit: '',
    labels: [],
    group: 'namedprocess',
    source: 'per cycle, sockets beyond the per-process cap',
  },
} as const satisfies Record<string, FamilySpec>;

/** The 0.7.10 name of each renamed scrape counter (compatibility table, compat test). */
export const PROCESS_EXPORTER_RENAMES: Readonly<Record<string, string>> = {
  namedprocess_scrape_errors: NAMEDPROCESS_FAMILIES.scrapeErrors.name,
  namedprocess_scrape_procread_errors: NAMEDPROCESS_FAMILIES.scrapeProcReadErrors.name,
  namedprocess_scrape_partial_errors: NAMEDPROCESS_FAMILIES.scrapePartialErrors.name,
};

/** Families we add on top of process-exporter 0.7.10. */
export const ADDITIONS: readonly string[] = [
  NAMEDPROCESS_FAMILIES.pid.name,
  NAMEDPROCESS_FAMILIES.effectiveUsername.name,
  NAMEDPROCESS_FAMILIES.netstat.name,
  NAMEDPROCESS_FAMILIES.netstatDropped.name,
];

export const STATE_NAMES = ['Running', 'Sleeping', 'Waiting', 'Zombie', 'Other'] as const;
export type StateName = (typeof STATE_NAMES)[number];

/** stat state letter -> process-exporter's state label. */
export function stateName(letter: string): StateName {
  switch (letter) {
    case 'R':
      return 'Running';
    case 'S':
      return 'Sleeping';
    case 'D':
      return 'Waiting';
    case 'Z':
      return 'Zombie';
    default:
      return 'Other';
  }
}
