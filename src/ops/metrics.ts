import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Operation names are chosen by clients: past this many distinct ones, the rest count as "other". */
export const MAX_OPERATION_LABELS = 200;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** What /metrics shows: each subscription-holding object reports its numbers when scraped. */
export interface SubscriptionCounts {
  readonly openSubscriptions: number;
  readonly droppedSubscribers: number;
}

/**
 * R61: one registry per server (two servers in one process keep separate numbers), with the
 * instruments that requests, subscriptions, publish jobs and runtime calls report to.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly operations = new Set<string>();

  readonly requests = new Counter({
    name: 'shipyard_http_requests_total',
    help: 'HTTP requests answered, by route, GraphQL operation name and status',
    labelNames: ['method', 'route', 'operation', 'status'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'shipyard_http_request_duration_seconds',
    help: 'Time from a request to the end of its answer, by route and GraphQL operation name',
    labelNames: ['route', 'operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly graphqlErrors = new Counter({
    name: 'shipyard_graphql_errors_total',
    help: 'GraphQL errors answered, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly publishJobs = new Counter({
    name: 'shipyard_publish_jobs_total',
    help: 'Publish jobs that reached a final state, by kind, action and final state',
    labelNames: ['kind', 'action', 'state'] as const,
    registers: [this.registry],
  });

  readonly stageDuration = new Histogram({
    name: 'shipyard_publish_stage_duration_seconds',
    help: 'Time each publish stage ran, by job kind, stage and the state it ended in',
    labelNames: ['kind', 'stage', 'state'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly runtimeCalls = new Histogram({
    name: 'shipyard_runtime_call_duration_seconds',
    help: 'Time of calls to runtimes, by call and outcome',
    labelNames: ['call', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'shipyard_' });
  }

  /** Reports the subscription numbers of `source` on every scrape. */
  watchSubscriptions(source: SubscriptionCounts): void {
    new Gauge({
      name: 'shipyard_subscriptions_open',
      help: 'Subscriptions open now (graphql-ws and SSE)',
      registers: [this.registry],
      collect() {
        this.set(source.openSubscriptions);
      },
    });
    new Counter({
      name: 'shipyard_subscriptions_dropped_total',
      help: 'Subscribers dropped for falling too far behind',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(source.droppedSubscribers);
      },
    });
  }

  /** The label for a client's operation name; bounded so that clients cannot grow the registry without end. */
  operationLabel(name: string | undefined): string {
    if (!name) return '';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.operations.has(name)) return name;
    if (this.operations.size >= MAX_OPERATION_LABELS) return 'other';
    this.operations.add(name);
    return name;
  }

  /** Runs one runtime call and records how long it took and whether it answered. */
  async timeRuntimeCall<T>(call: string, run: () => Promise<T>): Promise<T> {
    const end = this.runtimeCalls.startTimer({ call });
    try {
      const result = await run();
      end({ outcome: result === false ? 'refused' : 'ok' });
      return result;
    } catch (error) {
      end({ outcome: 'error' });
      throw error;
    }
  }
}
