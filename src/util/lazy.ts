/**
 * Modules loaded on first use. A host that runs with no config file, no
 * regex matcher and no basic auth never pays for them: yaml, re2js and
 * bcryptjs add 0.5-0.8 MiB of V8 heap each once loaded (measured with
 * `process.memoryUsage()` around `require`, after a full GC), about 2 MiB of
 * an 80 MiB budget.
 */
import type * as YamlModule from 'yaml';
import type * as Re2Module from 're2js';
import type * as BcryptModule from 'bcryptjs';

function lazy<T>(load: () => T): () => T {
  let mod: T | undefined;
  return () => (mod ??= load());
}

/* eslint-disable @typescript-eslint/no-require-imports -- a require in a function is how CommonJS loads on first use */
export const yaml = lazy(() => require('yaml') as typeof YamlModule);
export const re2js = lazy(() => require('re2js') as typeof Re2Module);
export const bcryptjs = lazy(() => require('bcryptjs') as typeof BcryptModule);
/* eslint-enable @typescript-eslint/no-require-imports */
