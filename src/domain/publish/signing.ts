import { generateKeyPairSync, sign } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { environmentSigningKeys } from '../../db/schema.js';

/** Each environment's Ed25519 key pair, kept by Shipyard, which signs every delivered artifact (R29). */
export class ArtifactSigning {
  constructor(private readonly db: Db) {}

  /** The environment's public signing key (SPKI PEM), made on first use. */
  async publicKey(environmentId: number): Promise<string> {
    return (await this.keyOf(environmentId)).publicKeyPem;
  }

  /**
   * Ed25519 over the artifact's SHA-256 digest; base64. Signed on libuv's thread pool (the
   * callback form of `sign`): twenty jobs signing at once held the event loop otherwise.
   */
  async sign(environmentId: number, artifactSha256: string): Promise<string> {
    const { privateKeyPem } = await this.keyOf(environmentId);
    const signature = await new Promise<Buffer>((resolve, reject) =>
      sign(null, Buffer.from(artifactSha256, 'hex'), privateKeyPem, (error, signed) => (error ? reject(error) : resolve(signed))),
    );
    return signature.toString('base64');
  }

  private async keyOf(environmentId: number): Promise<typeof environmentSigningKeys.$inferSelect> {
    const read = async () => (await this.db.select().from(environmentSigningKeys).where(eq(environmentSigningKeys.environmentId, environmentId)).limit(1))[0];
    const existing = await read();
    if (existing) return existing;
    const pair = generateKeyPairSync('ed25519', {
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    await this.db
      .insert(environmentSigningKeys)
      .values({ environmentId, publicKeyPem: pair.publicKey, privateKeyPem: pair.privateKey })
      .onConflictDoNothing();
    const stored = await read();
    if (!stored) throw new Error(`environment ${environmentId} has no signing key`);
    return stored;
  }
}
