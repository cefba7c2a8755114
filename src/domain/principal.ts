import type { Role } from './vocabulary.js';

export type { Role };

/** Who is calling: the user behind an API token, always inside one account. */
export interface Principal {
  accountId: number;
  userId: number;
  role: Role;
  tokenId: number;
}
