import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readOrCreateFile } from './shared-file.js';

/**
 * Secrets Shipyard must show again (app secrets, store links) are kept encrypted with AES-256-GCM
 * under a key in a file (mode 0600), made on first use: a copy of the database alone reveals none
 * of them. Instances sharing a BLOB_DIR share the key there (`keys/secret-key`), so that a secret
 * sealed by one opens on all (R58); without it the key is `DATA_DIR/secret-key`.
 */
export class SecretBox {
  private key: Buffer | null = null;

  /** `adopt`: a key file used before `keyFile` existed (DATA_DIR's, when BLOB_DIR is added later), taken over so that its secrets still open. */
  constructor(
    private readonly keyFile: string,
    private readonly adopt?: string,
  ) {}

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keyOf(), iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  }

  open(sealed: string): string {
    const bytes = Buffer.from(sealed, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.keyOf(), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
  }

  private keyOf(): Buffer {
    if (this.key) return this.key;
    const { adopt } = this;
    const content = readOrCreateFile(this.keyFile, () =>
      adopt !== undefined && existsSync(adopt) ? readFileSync(adopt, 'utf8') : randomBytes(32).toString('base64'),
    );
    this.key = Buffer.from(content.trim(), 'base64');
    return this.key;
  }
}
