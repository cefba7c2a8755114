import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../ops/metrics.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** GET /metrics in Prometheus text (R61); with METRICS_TOKEN set, only for that bearer token. */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: Metrics, metricsToken: string | undefined): Promise<void> {
  if (req.method !== 'GET') {
    res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain; charset=utf-8' });
    res.end('Use GET\n');
    return;
  }
  if (metricsToken) {
    const presented = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization?.trim() ?? '')?.[1] ?? '';
    if (!timingSafeEqual(digest(presented), digest(metricsToken))) {
      res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain; charset=utf-8' });
      res.end('Send Authorization: Bearer <METRICS_TOKEN>\n');
      return;
    }
  }
  const body = await metrics.registry.metrics();
  res.writeHead(200, { 'content-type': metrics.registry.contentType });
  res.end(body);
}
