#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=50 --expose-gc --compact-on-every-full-gc
/**
 * The edge: the only module that reads argv and env, installs signal
 * handlers, writes to stdout for --once and calls process.exit.
 *
 * Exit codes: 0 normal (including SIGTERM/SIGINT after a bounded flush),
 * 1 a runtime failure at start (port in use, procfs unusable), 2 a bad flag,
 * environment variable or config file (one line on stderr naming it).
 * SIGHUP re-reads the config files (Daemon.reload).
 *
 * The first line holds the V8 flags the daemon runs with; every launcher we
 * ship (npm start, the Dockerfile, the systemd unit) passes the same ones,
 * and a test keeps them equal. V8 reads heap sizes only when the isolate is
 * created, so they cannot be set from here. `--max-semi-space-size=1`: the
 * young generation is 2 MiB instead of growing to 32 MiB; what we allocate
 * per cycle is short-lived parse garbage, so a smaller nursery costs no
 * measurable CPU (README "Memory") and saves 15-30 MiB of RSS.
 * `--heap-growing-percent=50`: a full collection runs once the old generation
 * is 1.5x what the previous one left alive, where V8 would otherwise let it
 * grow up to about 4x on a small heap: under probe sweeps and scrapes, objects
 * that outlive the small nursery die soon after in the old generation, and
 * were held up to 60 MiB of garbage (README "Memory").
 * `--expose-gc`: V8's `gc`, which the daemon calls after a process sample,
 * at most once every 4 s (DaemonDeps.collectGarbage): the replaced family texts live outside
 * V8's heap and would otherwise wait for a collection V8 starts for its own
 * reasons. `--compact-on-every-full-gc`: every full collection also
 * evacuates fragmented old-generation pages and returns them; without it the
 * old generation kept 24 MiB of pages for 16.6 MiB of live objects after a
 * collection (1,000 processes, 3,000 ports).
 */
import { ConfigError, loadConfig, renderHelp } from './config/options';
import { createLogger } from './log';
import { Daemon } from './daemon';
import { VERSION } from './version';
import { redactUrl } from './config/redact';
import { WebAccess } from './export/web-access';

const SHUTDOWN_FLUSH_MS = 5000;

async function main(): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`otel-host-receiver: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (loaded.kind === 'help') {
    process.stdout.write(renderHelp(VERSION));
    return 0;
  }
  if (loaded.kind === 'version') {
    process.stdout.write(`otel-host-receiver ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  const config = loaded.config;
  const log = createLogger(config.logLevel);
  const badConfig = (err: unknown): number | undefined => {
    if (!(err instanceof ConfigError)) return undefined;
    process.stderr.write(`otel-host-receiver: ${err.message}\n`);
    return 2;
  };

  let daemon: Daemon;
  try {
    // --once: one cycle, no server, no OTLP push; the exposition goes to stdout
    // V8's gc, when the launcher passed --expose-gc: a full collection after each process sample (DaemonDeps)
    const gc = (globalThis as { gc?: () => void }).gc;
    daemon = new Daemon(config.once ? { ...config, exporters: ['prometheus'] } : config, log, { collectGarbage: gc && (() => gc()) });
  } catch (err) {
    const code = badConfig(err);
    if (code !== undefined) return code;
    throw err;
  }

  if (config.once) {
    try {
      await daemon.assertProcfs();
    } catch (err) {
      const code = badConfig(err);
      if (code !== undefined) return code;
      throw err;
    }
    await daemon.cycle();
    const page = await daemon.telemetry.scrape();
    // wait for the pipe to take it all: process.exit() would cut a large page short
    await new Promise<void>((resolve) => process.stdout.write(page, () => resolve()));
    await daemon.stop(0);
    return 0;
  }

  let webAccess: WebAccess | undefined;
  let address;
  try {
    if (config.webConfigFile !== undefined) webAccess = await WebAccess.load(config.webConfigFile, log);
    address = await daemon.start([], webAccess);
  } catch (err) {
    const code = badConfig(err);
    if (code !== undefined) return code;
    log.error('cannot start', { err: err instanceof Error ? err.message : String(err) });
    return 1;
  }
  log.info('serving', {
    version: VERSION,
    address: `${address.address}:${address.port}`,
    path: config.telemetryPath,
    tls: webAccess?.serverOptions().tls !== undefined,
    procfs: daemon.fs.root,
    exporters: config.exporters.join(',') || 'none',
    otlp_endpoint: config.exporters.includes('otlp') ? redactUrl(config.otlpEndpoint) : undefined,
  });

  process.on('SIGHUP', () => {
    daemon.reload().catch((err: unknown) =>
      log.error('reload failed; the previous configuration stays in force', { err: err instanceof Error ? err.message : String(err) }),
    );
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      void daemon
        .stop(SHUTDOWN_FLUSH_MS)
        .then(() => webAccess?.close())
        .then(() => resolve(0));
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`otel-host-receiver: unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`);
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`otel-host-receiver: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
