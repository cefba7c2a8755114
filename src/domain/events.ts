import type { EnvironmentStatus } from './environments.js';
import type { JobReading } from './publish/jobs.js';

/** Announced after a job's change was persisted (R22), with the job as it stood then. */
export interface PublishJobUpdated extends JobReading {
  type: 'publishJobUpdated';
  accountId: number;
  /** The instance that announced it (R59): the runner acts only on other instances' announcements. */
  origin?: string;
}

export interface EnvironmentStatusChanged {
  type: 'environmentStatusChanged';
  accountId: number;
  environmentId: number;
  status: EnvironmentStatus;
  previousStatus: EnvironmentStatus;
  at: Date;
}

/**
 * A user was deactivated: every token listed stopped authenticating at that moment. Whatever holds
 * a connection open on one of them (a subscription stream) ends it on this event.
 */
export interface UserDeactivated {
  type: 'userDeactivated';
  accountId: number;
  userId: number;
  tokenIds: number[];
  at: Date;
}

export type DomainEvent = PublishJobUpdated | EnvironmentStatusChanged | UserDeactivated;
export type Listener = (event: DomainEvent) => void;

/**
 * The in-process event bus of one server. Listeners run synchronously and must not throw; the
 * GraphQL layer turns these events into subscriptions.
 */
export class DomainEvents {
  private readonly listeners = new Set<Listener>();

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: DomainEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
