/**
 * The lifecycle endpoint, as Prometheus and its exporters offer it behind
 * --web.enable-lifecycle: POST /-/reload re-reads the configuration files.
 * 200 when the new configuration is in force, 500 with the reason when it was
 * refused (the previous one stays in force).
 */
import type { Route } from './server';
import { send } from './server';

export function lifecycleRoutes(reload: () => Promise<void>): Route[] {
  return [
    {
      method: 'POST',
      path: '/-/reload',
      handle: async (_req, res) => {
        try {
          await reload();
          send(res, 200, 'reloaded\n');
        } catch (err) {
          send(res, 500, `reload failed, previous configuration kept: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      },
    },
  ];
}
