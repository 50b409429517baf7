/**
 * Is the procfs root what it claims to be? A container started without the
 * host's /proc mounted where PROC_PREFIX points would otherwise serve a
 * healthy-looking page with 0 ports. Every procfs, and every fixture of one,
 * has net/tcp (the socket table discovery reads first), so that is the mark.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** What is wrong with `root` as a procfs, or undefined when it looks usable. */
export async function procfsRootProblem(root: string): Promise<string | undefined> {
  let st;
  try {
    st = await fsp.stat(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${root} does not exist` : `${root} cannot be read (${code ?? String(err)})`;
  }
  if (!st.isDirectory()) return `${root} is not a directory`;
  try {
    await fsp.access(path.join(root, 'net', 'tcp'));
  } catch {
    return `${root} has no net/tcp: not a procfs (is the host's /proc mounted there?)`;
  }
  return undefined;
}
