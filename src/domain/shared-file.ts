import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const isCode = (error: unknown, code: string) => (error as NodeJS.ErrnoException | null)?.code === code;

/**
 * The content of `file`, which is made from `make()` when it does not exist yet. Instances sharing
 * the directory (BLOB_DIR) that start together agree on one content: it is written whole to a
 * temporary file, then linked into place, which fails if the file exists; the loser reads the
 * winner's file and never sees one half written.
 */
export function readOrCreateFile(file: string, make: () => string, mode = 0o600): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
  // Only the owner may list or add files beside it (a key's directory).
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = join(dirname(file), `.${randomBytes(8).toString('hex')}.tmp`);
  writeFileSync(temp, make(), { mode, flag: 'wx' });
  chmodSync(temp, mode);
  try {
    linkSync(temp, file);
  } catch (error) {
    if (!isCode(error, 'EEXIST')) throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  return readFileSync(file, 'utf8');
}
