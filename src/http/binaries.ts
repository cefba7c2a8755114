import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { UploadRefusal } from '../domain/binaries/uploads.js';
import type { Domain } from '../domain/index.js';
import type { Logger } from '../logger.js';
import { bearerPrincipal } from './auth.js';

const UPLOAD_PATH = /^\/uploads\/([A-Za-z0-9_-]{16,128})$/;
const DOWNLOAD_PATH = /^\/binaries\/([1-9]\d{0,15})\/file$/;

export const uploadPath = (token: string): string => `/uploads/${token}`;
export const downloadPath = (binaryId: number): string => `/binaries/${binaryId}/file`;

/** How each refusal of an upload's bytes reads in HTTP. */
const refusalStatus: Record<UploadRefusal, number> = {
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  ALREADY_USED: 409,
  IN_PROGRESS: 409,
  EXPIRED: 410,
  TOO_LARGE: 413,
  INCOMPLETE: 400,
};

const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', connection: status >= 400 ? 'close' : 'keep-alive' });
  res.end(JSON.stringify(body));
};

/** Answers `PUT /uploads/<token>` and `GET /binaries/<id>/file`; false for any other request. */
export async function handleBinaryRoutes(
  domain: Domain,
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  /** Answers a fault after the route returned (a failing database: 503), R72. */
  fault: (error: unknown) => void,
): Promise<boolean> {
  const upload = UPLOAD_PATH.exec(path);
  const download = DOWNLOAD_PATH.exec(path);
  if (!upload && !download) return false;
  const principal = await bearerPrincipal(domain, req.headers.authorization);
  if (!principal) {
    sendJson(res, 401, { error: 'Authentication required: send Authorization: Bearer <token>' });
    req.resume();
    return true;
  }
  if (upload?.[1]) {
    if (req.method !== 'PUT') return sendJson(res, 405, { error: 'Use PUT' }), true;
    const declared = req.headers['content-length'];
    const contentLength = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : null;
    // The domain reads a stream of its own, so that refusing it mid-way (413) leaves the socket
    // able to carry the answer; a client that goes away still ends that stream with an error.
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    req.pipe(body);
    req.once('error', (error) => body.destroy(error));
    req.once('close', () => {
      if (!req.complete) body.destroy(new Error('client went away mid-upload'));
    });
    domain.uploads.receive(principal, upload[1], body, contentLength).then(
      (receipt) => {
        if (receipt.outcome === 'ABORTED') return res.destroy();
        if (receipt.outcome === 'STORED') return sendJson(res, 201, { sha256: receipt.sha256, sizeBytes: receipt.sizeBytes });
        // The client may still be sending; answer now and close rather than read the rest.
        req.unpipe(body);
        sendJson(res, refusalStatus[receipt.refused], { error: receipt.message });
      },
      (error: unknown) => {
        req.unpipe(body);
        fault(error);
      },
    );
    return true;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'Use GET' }), true;
  const [binary] = await domain.binaries.byIds(principal, [Number(download?.[1])]);
  if (!binary) return sendJson(res, 404, { error: 'No such binary' }), true;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(binary.sizeBytes),
    'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(binary.fileName)}`,
    'x-content-sha256': binary.sha256,
  });
  if (req.method === 'HEAD') return res.end(), true;
  const file = createReadStream(domain.binaries.pathOf(binary));
  file.once('error', (error) => {
    logger.error({ err: error, binaryId: binary.id }, 'binary file unreadable');
    res.destroy(error);
  });
  file.pipe(res);
  return true;
}
