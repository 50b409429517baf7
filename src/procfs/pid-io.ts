/**
 * Parser for /proc/<pid>/io (proc(5), Documentation/filesystems/proc.rst).
 * Readable only with ptrace access to the process (same user without
 * dumpable restrictions, or CAP_SYS_PTRACE): EACCES otherwise, which callers
 * report as a partial read, never as zero.
 */
import type { ProcFs } from './proc-fs';

export interface PidIo {
  /** `rchar`: bytes passed to read(2) and friends, including page-cache hits. */
  rchar: number;
  /** `wchar`: bytes passed to write(2) and friends. */
  wchar: number;
  /** `syscr`: read syscalls. */
  syscr: number;
  /** `syscw`: write syscalls. */
  syscw: number;
  /** `read_bytes`: bytes this task caused to be fetched from the storage layer. */
  readBytes: number;
  /** `write_bytes`: bytes this task caused to be sent to the storage layer. */
  writeBytes: number;
  /** `cancelled_write_bytes`: written bytes later truncated away before writeback. */
  cancelledWriteBytes: number;
}

const KEYS: Record<string, keyof PidIo> = {
  rchar: 'rchar',
  wchar: 'wchar',
  syscr: 'syscr',
  syscw: 'syscw',
  read_bytes: 'readBytes',
  write_bytes: 'writeBytes',
  cancelled_write_bytes: 'cancelledWriteBytes',
};

export function parsePidIo(text: string): PidIo {
  const out: Partial<PidIo> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = KEYS[line.slice(0, colon)];
    if (key === undefined) continue;
    const v = Number(line.slice(colon + 1));
    if (!Number.isFinite(v)) throw new Error(`malformed io: ${line.slice(0, 64)}`);
    out[key] = v;
  }
  if (out.readBytes === undefined || out.writeBytes === undefined) throw new Error('malformed io: no read_bytes/write_bytes');
  return {
    rchar: out.rchar ?? 0,
    wchar: out.wchar ?? 0,
    syscr: out.syscr ?? 0,
    syscw: out.syscw ?? 0,
    readBytes: out.readBytes,
    writeBytes: out.writeBytes,
    cancelledWriteBytes: out.cancelledWriteBytes ?? 0,
  };
}

export function readPidIoSync(fs: ProcFs, pid: number, task?: number): PidIo {
  return parsePidIo(fs.readSync(task === undefined ? `${pid}/io` : `${pid}/task/${task}/io`, undefined, 'latin1'));
}
