export const roles = ['ADMIN', 'MEMBER', 'VIEWER'] as const;
export type Role = (typeof roles)[number];

/** Who is calling: the user behind an API token, always inside one account. */
export interface Principal {
  accountId: number;
  userId: number;
  role: Role;
  tokenId: number;
}

const rank: Record<Role, number> = { VIEWER: 0, MEMBER: 1, ADMIN: 2 };

/** Roles are ordered: an ADMIN can do what a MEMBER can, a MEMBER what a VIEWER can. */
export const hasRole = (principal: Principal, needed: Role): boolean =>
  rank[principal.role] >= rank[needed];
