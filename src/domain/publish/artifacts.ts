import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { BlobStore, StoredTemp } from '../binaries/blob-store.js';

/** Reads a stored file back and hashes it, in chunks, so the event loop stays free. */
export async function hashFile(path: string, signal: AbortSignal): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(path, { signal, highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    sizeBytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

export interface WrapperManifest {
  wrapper: 'shipyard';
  version: 1;
  app: string;
  platform: string;
  appVersion: string;
  originalFileName: string;
  originalSha256: string;
  wrappedAt: string;
}

/**
 * WRAP_AND_SIGN (R29): a new artifact holding the wrapper manifest and the original binary
 * untouched, as a tar stream into the blob store. Tar rather than ZIP: ZIP needs a CRC-32 of
 * every byte, computed in JavaScript by the ZIP writers, which held the event loop for hundreds of
 * milliseconds with twenty publishes at once (bench/pipeline.ts).
 */
export async function wrapArtifact(store: BlobStore, originalPath: string, manifest: WrapperManifest, signal: AbortSignal): Promise<StoredTemp> {
  const { size } = await stat(originalPath);
  const pack = tar.pack();
  const stored = store.writeTemp(pack as unknown as AsyncIterable<Uint8Array>, Number.MAX_SAFE_INTEGER);
  pack.entry({ name: 'wrapper.json' }, JSON.stringify(manifest, null, 2));
  const entry = pack.entry({ name: `app/${manifest.originalFileName}`, size });
  await pipeline(createReadStream(originalPath, { signal, highWaterMark: 1024 * 1024 }), entry);
  pack.finalize();
  return stored;
}
