/**
 * /proc/<pid>/smaps summed: the fallback for kernels without smaps_rollup
 * (added in Linux 4.14; RHEL/CentOS 7 and other long-lived hosts lack it).
 * smaps has one block per mapping; summing its `Pss:` and `SwapPss:` lines
 * gives what smaps_rollup reports (process-exporter does the same through
 * prometheus/procfs). A process without an mm (zombie, kernel thread) has an
 * empty smaps: 0.
 *
 * The file grows with the number of mappings (a JVM: tens of thousands, many
 * megabytes), so it is read in fixed chunks and parsed as it comes; only the
 * two keys are looked at.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import type { ProcFs } from './proc-fs';

const CHUNK = 64 * 1024;
/**
 * A process with tens of thousands of mappings has a smaps of a few MB; the
 * cap bounds what a hostile tree (a device or FIFO with a busy writer) costs.
 */
const SMAPS_LIMIT = 64 * 1024 * 1024;

export interface PssSums {
  pssBytes: number;
  swapPssBytes: number;
}

/** Sums `Pss:` and `SwapPss:` (kB) over every mapping of `text` lines; bytes. */
export class SmapsSummer {
  pssKb = 0;
  swapPssKb = 0;
  private rest = '';

  push(chunk: string): void {
    const text = this.rest + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      this.line(text, start, nl);
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  end(): PssSums {
    if (this.rest !== '') this.line(this.rest, 0, this.rest.length);
    this.rest = '';
    return { pssBytes: this.pssKb * 1024, swapPssBytes: this.swapPssKb * 1024 };
  }

  private line(text: string, from: number, to: number): void {
    // mapping headers start with a hex address; field lines with their key
    if (text.startsWith('Pss:', from)) this.pssKb += kb(text, from + 4, to);
    else if (text.startsWith('SwapPss:', from)) this.swapPssKb += kb(text, from + 8, to);
  }
}

function kb(text: string, from: number, to: number): number {
  const v = Number(text.slice(from, to).replace(/kB\s*$/, ''));
  return Number.isFinite(v) ? v : 0;
}

export function parseSmapsPss(text: string): PssSums {
  const s = new SmapsSummer();
  s.push(text);
  return s.end();
}

/** Reads and sums /proc/<pid>/smaps; throws the read error (ENOENT/ESRCH when the process is gone). */
export function readSmapsPssSync(fs: ProcFs, pid: number): PssSums {
  // non-blocking like every other /proc open: a FIFO in a --path.procfs tree answers at once
  const fd = openSync(`${fs.root}/${pid}/smaps`, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const summer = new SmapsSummer();
    for (let total = 0; total < SMAPS_LIMIT; ) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      total += n;
      summer.push(buf.toString('latin1', 0, n));
    }
    return summer.end();
  } finally {
    closeSync(fd);
  }
}
