import type { EnvironmentStatus } from './environments.js';

/** Announced after a job's change was persisted (R22): subscribers reload the job to see it. */
export interface PublishJobUpdated {
  type: 'publishJobUpdated';
  accountId: number;
  jobId: number;
  appId: number;
  environmentId: number;
  /** The job's state at this change; final states end a job's stream. */
  state: string;
  /** Counts the job's changes, so that a subscriber can tell what it already has. */
  sequence: number;
}

export interface EnvironmentStatusChanged {
  type: 'environmentStatusChanged';
  accountId: number;
  environmentId: number;
  status: EnvironmentStatus;
  previousStatus: EnvironmentStatus;
  at: Date;
}

export type DomainEvent = PublishJobUpdated | EnvironmentStatusChanged;
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
