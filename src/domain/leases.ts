import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { leases } from '../db/schema.js';

/**
 * Named leases (R59): work that must run on one instance at a time (background maintenance) runs
 * on the instance holding its lease. The holder renews it well before it expires; when the holder
 * dies, another instance takes the lease over once it has expired.
 */
export class Leases {
  constructor(private readonly db: Db) {}

  /**
   * Takes the lease for `owner`, or renews it, until `until`, in one statement: it is taken when
   * nobody holds it, renewed when `owner` holds it, and left alone while another holder's lease
   * runs. Answers whether `owner` holds it now.
   */
  async hold(name: string, owner: string, until: Date, now = new Date()): Promise<boolean> {
    const rows = await this.db
      .insert(leases)
      .values({ name, owner, expiresAt: until })
      .onConflictDoUpdate({
        target: leases.name,
        set: { owner, expiresAt: until },
        setWhere: sql`${leases.owner} = ${owner} or ${leases.expiresAt} < ${now.getTime()}`,
      })
      .returning({ owner: leases.owner });
    return rows.length > 0;
  }

  /** Gives the lease up (a clean stop), so another instance takes it at its next try instead of after it expires. */
  async release(name: string, owner: string): Promise<void> {
    await this.db.delete(leases).where(and(eq(leases.name, name), eq(leases.owner, owner)));
  }
}
