/**
 * What the daemon knows about itself, in the exporter tradition
 * (node_exporter's per-collector duration and success): every stage records
 * its last duration, outcome and time; probes count their results. The
 * self-metrics are observable instruments reading this object.
 */
export type Stage = 'discovery' | 'discovery_new' | 'tcp_probe' | 'http_probe' | 'udp_probe' | 'process_alive' | 'process_sample';
export const STAGES: readonly Stage[] = ['discovery', 'discovery_new', 'tcp_probe', 'http_probe', 'udp_probe', 'process_alive', 'process_sample'];

export interface StageStats {
  durationSeconds: number;
  success: 0 | 1;
  lastRunSeconds: number;
  runs: number;
  failures: number;
  lastError?: string;
}

export type ProbeKind = 'tcp' | 'http' | 'udp' | 'process';

export class SelfStats {
  readonly startedAt = Date.now();
  readonly stages = new Map<Stage, StageStats>();
  /** `${kind}\0${result}` -> count. */
  readonly probeResults = new Map<string, number>();
  readonly otlp = { exports: 0, failures: 0, up: 1 as 0 | 1, lastError: undefined as string | undefined, lastSuccessAt: 0 };
  discovery = { ports: 0, excluded: 0, unowned: 0, deniedPids: 0 };
  scrapes = 0;

  recordStage(stage: Stage, seconds: number, ok: boolean, error?: string): void {
    const s = this.stages.get(stage) ?? { durationSeconds: 0, success: 1, lastRunSeconds: 0, runs: 0, failures: 0 };
    s.durationSeconds = seconds;
    s.success = ok ? 1 : 0;
    s.lastRunSeconds = Date.now() / 1000;
    s.runs++;
    if (!ok) {
      s.failures++;
      s.lastError = error;
    }
    this.stages.set(stage, s);
  }

  countProbe(kind: ProbeKind, result: string, n = 1): void {
    const key = `${kind}\0${result}`;
    this.probeResults.set(key, (this.probeResults.get(key) ?? 0) + n);
  }
}
