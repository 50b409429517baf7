/**
 * The Resource every export carries. Built by hand rather than with the SDK's
 * detectors: processDetector would put our full command line (and any secret
 * in it) into target_info and every OTLP payload (facts §6).
 *
 * service.instance.id is the host name: stable across restarts, and what the
 * Collector and Alloy turn into `instance`, so series from different hosts
 * never collide on job/instance.
 */
import * as os from 'node:os';
import { readFileSync } from 'node:fs';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { Config } from '../config/options';
import { VERSION } from '../version';

/** /etc/machine-id (systemd) or the D-Bus copy; undefined in minimal containers. */
export function readMachineId(paths = ['/etc/machine-id', '/var/lib/dbus/machine-id']): string | undefined {
  for (const p of paths) {
    try {
      const id = readFileSync(p, 'utf8').trim();
      if (id !== '') return id;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

export function buildResource(config: Config, hostName = os.hostname(), machineId = readMachineId()): Resource {
  const attributes: Record<string, string> = {
    'service.name': config.serviceName,
    'service.version': VERSION,
    'service.instance.id': hostName,
    'host.name': hostName,
    'os.type': 'linux',
    ...(machineId ? { 'host.id': machineId } : {}),
    'telemetry.sdk.name': 'opentelemetry',
    'telemetry.sdk.language': 'nodejs',
  };
  // OTEL_RESOURCE_ATTRIBUTES adds and overrides, except service.name, which OTEL_SERVICE_NAME owns (spec).
  for (const [k, v] of Object.entries(config.resourceAttributes)) {
    if (k !== 'service.name' || config.serviceName === 'otel-host-receiver') attributes[k] = v;
  }
  return resourceFromAttributes(attributes);
}
