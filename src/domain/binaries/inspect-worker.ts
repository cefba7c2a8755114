import { parentPort } from 'node:worker_threads';
import { inspectArchive } from './archive.js';

/** One parse at a time: the pool sends a path, this thread answers what the archive is (R68). */
export interface InspectRequest {
  id: number;
  path: string;
}

// Parsers report a hostile file's every flaw on the console (xmldom does); that would let one
// upload flood the server's log, and the answer already carries the reason.
// eslint-disable-next-line no-console -- silencing, not writing
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) console[method] = () => undefined;

if (!parentPort) throw new Error('inspect-worker runs only as a worker thread');
const port = parentPort;
port.on('message', (request: InspectRequest) => {
  void inspectArchive(request.path).then((inspection) => port.postMessage({ id: request.id, inspection }));
});
port.postMessage({ ready: true });
