// Runs in a worker thread of ArtifactWorkers (artifacts.ts): the byte work of publishing, which
// would otherwise hold the server's event loop while twenty environments publish at once.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { ArtifactTask, HashedFile } from './artifacts.js';

const CHUNK_BYTES = 1024 * 1024;

/** The manifest and the original binary as a tar stream into `target`, hashed as it is written. */
async function wrap(originalPath: string, manifestJson: string, originalFileName: string, target: string): Promise<HashedFile> {
  const { size } = await stat(originalPath);
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const meter = new Transform({
    highWaterMark: CHUNK_BYTES,
    transform(chunk: Buffer, _encoding, callback) {
      sizeBytes += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  const pack = tar.pack();
  const written = pipeline(pack, meter, createWriteStream(target, { flags: 'wx', mode: 0o600, highWaterMark: CHUNK_BYTES }));
  try {
    pack.entry({ name: 'wrapper.json' }, manifestJson);
    const entry = pack.entry({ name: `app/${originalFileName}`, size });
    await pipeline(createReadStream(originalPath, { highWaterMark: CHUNK_BYTES }), entry);
    pack.finalize();
    await written;
  } catch (error) {
    pack.destroy();
    await written.catch(() => undefined);
    await rm(target, { force: true });
    throw error;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

export default function run(task: ArtifactTask): Promise<HashedFile> {
  return wrap(task.originalPath, task.manifestJson, task.originalFileName, task.target);
}
