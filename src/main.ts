#!/usr/bin/env node
/**
 * The edge: the only module that reads argv and env, installs signal
 * handlers, writes to stdout for --once and calls process.exit.
 *
 * Exit codes: 0 normal (including SIGTERM/SIGINT after a bounded flush),
 * 1 a runtime failure at start (port in use, procfs unusable), 2 a bad flag
 * or environment variable (one line on stderr naming it).
 */
import { ConfigError, loadConfig, renderHelp } from './config/options';
import { createLogger } from './log';
import { Daemon } from './daemon';
import { VERSION } from './version';

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

  if (config.once) {
    // One cycle, no server, no OTLP push: the exposition goes to stdout.
    const daemon = new Daemon({ ...config, exporters: ['prometheus'] }, log);
    await daemon.fs.assertUsable();
    await daemon.cycle();
    process.stdout.write(await daemon.telemetry.scrape());
    await daemon.stop(0);
    return 0;
  }

  const daemon = new Daemon(config, log);
  let address;
  try {
    address = await daemon.start();
  } catch (err) {
    log.error('cannot start', { err: err instanceof Error ? err.message : String(err) });
    return 1;
  }
  log.info('serving', {
    version: VERSION,
    address: `${address.address}:${address.port}`,
    path: config.telemetryPath,
    procfs: daemon.fs.root,
    exporters: config.exporters.join(',') || 'none',
    otlp_endpoint: config.exporters.includes('otlp') ? config.otlpEndpoint : undefined,
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      void daemon.stop(SHUTDOWN_FLUSH_MS).then(() => resolve(0));
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
