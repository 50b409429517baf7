/** Temporary directories for tests, removed by the test or, at the latest, when the test process exits. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TempDir {
  dir: string;
  /** Removes the directory now (it is removed at exit anyway). */
  remove(): void;
}

const made = new Set<string>();

process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh directory `<tmp>/ohr-<name>-XXXXXX`. */
export function tempDir(name = 'test'): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ohr-${name}-`));
  made.add(dir);
  return {
    dir,
    remove: () => {
      fs.rmSync(dir, { recursive: true, force: true });
      made.delete(dir);
    },
  };
}
