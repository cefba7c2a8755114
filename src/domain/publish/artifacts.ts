import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import yazl from 'yazl';
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
 * WRAP_AND_SIGN (R29): a new archive holding the original binary untouched plus a wrapper
 * manifest, streamed into the blob store.
 */
export async function wrapArtifact(store: BlobStore, originalPath: string, manifest: WrapperManifest, signal: AbortSignal): Promise<StoredTemp> {
  const archive = new yazl.ZipFile();
  archive.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2)), 'wrapper.json');
  archive.addReadStream(createReadStream(originalPath, { signal }), `app/${manifest.originalFileName}`, { compress: false });
  archive.end();
  const output = archive.outputStream.pipe(new PassThrough());
  return store.writeTemp(output, Number.MAX_SAFE_INTEGER);
}
