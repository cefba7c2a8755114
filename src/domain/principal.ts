export const roles = ['ADMIN', 'MEMBER', 'VIEWER'] as const;
export type Role = (typeof roles)[number];

/** Who is calling: the user behind an API token, always inside one account. */
export interface Principal {
  accountId: number;
  userId: number;
  role: Role;
  tokenId: number;
}
