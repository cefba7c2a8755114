import type { Domain } from '../domain/index.js';
import type { Principal } from '../domain/principal.js';

/** R5: the principal behind `Authorization: Bearer <token>`, or null for anything else. */
export async function bearerPrincipal(domain: Domain, authorization: string | null | undefined): Promise<Principal | null> {
  const match = authorization ? /^Bearer\s+(\S{1,512})$/i.exec(authorization.trim()) : null;
  return match?.[1] ? await domain.accounts.authenticate(match[1]) : null;
}
