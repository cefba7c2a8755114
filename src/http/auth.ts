import type { Domain } from '../domain/index.js';
import type { Principal } from '../domain/principal.js';

/** R5: the principal behind `Authorization: Bearer <token>`, or null for anything else. */
export function bearerPrincipal(domain: Domain, authorization: string | null | undefined): Principal | null {
  const match = authorization ? /^Bearer\s+(\S{1,512})$/i.exec(authorization.trim()) : null;
  return match?.[1] ? domain.accounts.authenticate(match[1]) : null;
}
