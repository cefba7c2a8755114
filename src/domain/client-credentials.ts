import { createHash, randomBytes } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { appClientCredentials } from '../db/schema.js';
import type { Runtime } from '../runtime/runtime.js';
import type { SecretBox } from './secret-box.js';

export interface ClientCredentials {
  appId: number;
  environmentId: number;
  appKey: string;
  appSecret: string;
  rotatedAt: Date;
}

const newSecret = () => randomBytes(32).toString('base64url');
export const secretDigest = (secret: string) => createHash('sha256').update(secret).digest('hex');

/**
 * R54: an app's key and secret per environment. Made by the first services publish and stable
 * afterwards; the runtime is told the key and the secret's SHA-256, never the secret itself.
 */
export class ClientCredentialsService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  /** Pairs of (app, environment) at once; null where no services publish has made them yet. */
  async of(pairs: readonly { appId: number; environmentId: number }[]): Promise<(ClientCredentials | null)[]> {
    if (pairs.length === 0) return [];
    const rows = await this.db
      .select()
      .from(appClientCredentials)
      .where(inArray(appClientCredentials.appId, [...new Set(pairs.map((pair) => pair.appId))]));
    return pairs.map(({ appId, environmentId }) => {
      const row = rows.find((candidate) => candidate.appId === appId && candidate.environmentId === environmentId);
      return row ? { appId, environmentId, appKey: row.appKey, appSecret: this.box.open(row.secretEncrypted), rotatedAt: row.rotatedAt } : null;
    });
  }

  /** Makes them on the first publish; every publish tells the runtime again (it may be new). */
  async ensure(appId: number, environmentId: number, runtime: Runtime, key: string): Promise<void> {
    let [current] = await this.of([{ appId, environmentId }]);
    if (!current) {
      const made = { appKey: randomBytes(16).toString('hex'), secretEncrypted: this.box.seal(newSecret()), rotatedAt: new Date() };
      await this.db.insert(appClientCredentials).values({ appId, environmentId, ...made }).onConflictDoNothing();
      [current] = await this.of([{ appId, environmentId }]);
      if (!current) throw new Error('app credentials were not stored');
    }
    await runtime.run(key, { type: 'setAppCredentials', appId, appKey: current.appKey, secretSha256: secretDigest(current.appSecret) });
  }

  /**
   * A new secret: the runtime learns it first, then it is stored, so that the secret shown is
   * always the one the runtime accepts. Null when there is nothing to rotate yet.
   */
  async rotate(appId: number, environmentId: number, runtime: Runtime): Promise<ClientCredentials | null> {
    const [current] = await this.of([{ appId, environmentId }]);
    if (!current) return null;
    const secret = newSecret();
    await runtime.run(`rotate:${appId}:${environmentId}:${randomBytes(8).toString('hex')}`, {
      type: 'setAppCredentials',
      appId,
      appKey: current.appKey,
      secretSha256: secretDigest(secret),
    });
    const rotatedAt = new Date();
    await this.db
      .update(appClientCredentials)
      .set({ secretEncrypted: this.box.seal(secret), rotatedAt })
      .where(and(eq(appClientCredentials.appId, appId), eq(appClientCredentials.environmentId, environmentId)));
    return { ...current, appSecret: secret, rotatedAt };
  }
}
