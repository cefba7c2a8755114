import type { WebSocket } from 'ws';
import type { Domain } from '../domain/index.js';

/** How often open streams' tokens are checked for expiry (and revocation elsewhere), R70. */
export const TOKEN_SWEEP_INTERVAL_MS = 250;

/** The WebSocket close code for a token that lost its access while connected (R5, R70). */
export const CLOSE_TOKEN_REVOKED = 4403;
export const TOKEN_LOST = 'Forbidden: the token was revoked or has expired';

/** How revocations travel between instances (Realtime, over Redis with REDIS_URL). */
export interface RevocationRelay {
  announceRevoked(tokenIds: number[]): void;
  onRevoked(listener: (tokenIds: number[]) => void): () => void;
}

/**
 * R70: every open stream (a graphql-ws connection, an SSE response) under the token it was
 * opened with, so that a token's revocation or expiry ends its streams within a second: at once
 * when revoked here or, through `relay`, on another instance (R58); at the next sweep when expired,
 * or when a relayed revocation was lost (Redis down).
 */
export class TokenSessions {
  private readonly byToken = new Map<number, Set<() => void>>();
  private readonly timer: NodeJS.Timeout;
  private readonly stopListening: () => void;
  private readonly stopRelay: () => void;

  constructor(
    private readonly domain: Domain,
    sweepIntervalMs = TOKEN_SWEEP_INTERVAL_MS,
    relay?: RevocationRelay,
  ) {
    this.stopListening = domain.accounts.onTokenRevoked((tokenId) => {
      this.end(tokenId);
      relay?.announceRevoked([tokenId]);
    });
    this.stopRelay = relay?.onRevoked((tokenIds) => tokenIds.forEach((tokenId) => this.end(tokenId))) ?? (() => undefined);
    this.timer = setInterval(() => void this.sweep(), sweepIntervalMs);
    this.timer.unref();
  }

  /** Remembers a stream opened with `tokenId`; `end` closes it. Answers how to forget it. */
  track(tokenId: number, end: () => void): () => void {
    let ends = this.byToken.get(tokenId);
    if (!ends) this.byToken.set(tokenId, (ends = new Set()));
    ends.add(end);
    return () => {
      ends.delete(end);
      if (ends.size === 0 && this.byToken.get(tokenId) === ends) this.byToken.delete(tokenId);
    };
  }

  /** A graphql-ws connection opened with `tokenId`: closed with 4403 when the token goes. */
  trackSocket(tokenId: number, socket: WebSocket): void {
    const untrack = this.track(tokenId, () => socket.close(CLOSE_TOKEN_REVOKED, TOKEN_LOST));
    socket.once('close', untrack);
  }

  /** Streams open now, for tests that show closed ones leave nothing behind. */
  get size(): number {
    let count = 0;
    for (const ends of this.byToken.values()) count += ends.size;
    return count;
  }

  close(): void {
    clearInterval(this.timer);
    this.stopListening();
    this.stopRelay();
  }

  private end(tokenId: number): void {
    const ends = this.byToken.get(tokenId);
    this.byToken.delete(tokenId);
    for (const end of ends ?? []) end();
  }

  private async sweep(): Promise<void> {
    if (this.byToken.size === 0) return;
    let live: Set<number>;
    try {
      live = await this.domain.accounts.liveTokenIds([...this.byToken.keys()]);
    } catch {
      // The database is failing; /ready says so, and the next sweep tries again.
      return;
    }
    for (const tokenId of [...this.byToken.keys()]) if (!live.has(tokenId)) this.end(tokenId);
  }
}
