import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

const loopbackPeers = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const loopbackHostnames = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Headers a proxy adds: behind one, the peer address says nothing about who asks. */
const forwardingHeaders = ['forwarded', 'via', 'x-real-ip', 'client-ip', 'true-client-ip'];

/** `localhost:4000`, `127.0.0.1:4000` or `[::1]:4000` on the port the request came in on. */
function isLoopbackHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(host.trim());
  if (!match?.[1]) return false;
  const name = match[1].toLowerCase();
  const hostPort = match[2] === undefined ? 80 : Number(match[2]);
  const loopbackAddress = isIP(name) === 4 && name.startsWith('127.');
  return (loopbackHostnames.has(name) || loopbackAddress) && hostPort === port;
}

/**
 * R2, R65: whether a page (GraphiQL, the dashboard) may carry the admin token. Only the person at
 * this machine opening the page themselves: a loopback peer, naming this server by a loopback
 * Host (a forged or rebound Host is someone else's name), with no proxy in between, and a request
 * a browser marks as typed in or same-origin (another local port, a file:// page or any other
 * site asking on the user's behalf is cross-origin). A client that sends no Sec-Fetch-Site is not
 * a browser acting for a page.
 */
export function mayPrefillToken(req: IncomingMessage): boolean {
  if (!loopbackPeers.has(req.socket.remoteAddress ?? '')) return false;
  if (!isLoopbackHost(req.headers.host, req.socket.localPort ?? -1)) return false;
  if (Object.keys(req.headers).some((name) => name.startsWith('x-forwarded-') || forwardingHeaders.includes(name))) return false;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${req.headers.host}`;
}
