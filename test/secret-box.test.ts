import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../src/domain/secret-box.js';

const dir = mkdtempSync(join(tmpdir(), 'shipyard-secret-box-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the key that seals secrets (R58)', () => {
  it('is one key for boxes over one shared file, made once, mode 0600', () => {
    const file = join(dir, 'shared', 'keys', 'secret-key');
    const [a, b] = [new SecretBox(file), new SecretBox(file)];
    const sealed = a.seal('app secret');
    expect(b.open(sealed)).toBe('app secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'shared', 'keys')).mode & 0o777).toBe(0o700);
    // Positive control: a box over another file has another key and cannot open it.
    expect(() => new SecretBox(join(dir, 'other', 'secret-key')).open(sealed)).toThrow();
  });

  it("takes over a data directory's earlier key when the shared one does not exist yet, so that its secrets still open", () => {
    const earlier = join(dir, 'data', 'secret-key');
    const beforeSharing = new SecretBox(earlier);
    const sealed = beforeSharing.seal('sealed before BLOB_DIR');
    const shared = join(dir, 'blobs', 'keys', 'secret-key');
    expect(new SecretBox(shared, earlier).open(sealed)).toBe('sealed before BLOB_DIR');
    expect(readFileSync(shared, 'utf8')).toBe(readFileSync(earlier, 'utf8'));
    // Once it exists, the shared key wins over any other instance's earlier one.
    const otherEarlier = join(dir, 'data2', 'secret-key');
    mkdirSync(join(dir, 'data2'));
    writeFileSync(otherEarlier, Buffer.alloc(32, 7).toString('base64'));
    expect(new SecretBox(shared, otherEarlier).open(sealed)).toBe('sealed before BLOB_DIR');
  });
});
