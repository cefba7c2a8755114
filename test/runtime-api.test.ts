import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runtimeCommand } from '../src/runtime/commands.js';
import { createRuntimeServer, type RuntimeServerHandle } from '../src/runtime/server/app.js';

interface Operation {
  security?: unknown[];
  responses: Record<string, unknown>;
  requestBody?: { content: Record<string, { example?: unknown }> };
}
type PathItem = Record<string, Operation | unknown>;
const document = parse(readFileSync('docs/runtime-api.yaml', 'utf8')) as {
  openapi: string;
  paths: Record<string, PathItem>;
  components: { schemas: { Command: { oneOf: { properties: { type: { const: string } } }[] } } };
};
const METHODS = ['get', 'head', 'put', 'post', 'delete', 'patch'];
const operations = Object.entries(document.paths).flatMap(([path, item]) =>
  METHODS.filter((method) => method in item).map((method) => ({ method: method.toUpperCase(), path, operation: item[method] as Operation })),
);

const TOKEN = 'openapi-test-runtime-token-0123456789';
let server: RuntimeServerHandle;
let url: string;
beforeAll(async () => {
  server = createRuntimeServer({ dataDir: mkdtempSync(join(tmpdir(), 'shipyard-openapi-')), token: TOKEN });
  url = await server.start();
});
afterAll(() => server.stop());

const sample = Buffer.from('a file for the runtime');
const sampleSha = createHash('sha256').update(sample).digest('hex');
let keys = 0;

async function call(method: string, path: string, operation: Operation, token: string | null): Promise<number> {
  keys += 1;
  const example = operation.requestBody?.content['application/json']?.example;
  const response = await fetch(`${url}/api-env${path.replace('{sha256}', sampleSha)}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(method === 'POST' ? { 'content-type': 'application/json', 'idempotency-key': `openapi-${keys}` } : {}),
    },
    ...(method === 'PUT' ? { body: new Uint8Array(sample) } : method === 'POST' ? { body: JSON.stringify(example) } : {}),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('the runtime API and its OpenAPI document (R46)', () => {
  it('is OpenAPI 3.1', () => {
    expect(document.openapi).toBe('3.1.0');
  });

  it('documents every route the server has, and nothing it has not', () => {
    expect(new Set(operations.map(({ method, path }) => `${method} ${path}`))).toEqual(new Set(server.routes));
  });

  it('documents every command the server accepts', () => {
    const documented = document.components.schemas.Command.oneOf.map((option) => option.properties.type.const);
    expect(new Set(documented)).toEqual(new Set(runtimeCommand.options.map((option) => option.shape.type.value)));
  });

  it('answers every documented route: 401 without the token, a documented answer with it', async () => {
    for (const { method, path, operation } of operations) {
      const open = Array.isArray(operation.security) && operation.security.length === 0;
      const without = await call(method, path, operation, null);
      // An open route answers without the token as with it (here: nothing published, so 404 or 401 for appconfig's app key).
      if (open) expect(Object.keys(operation.responses), `${method} ${path} answered ${without}`).toContain(String(without));
      else expect(without, `${method} ${path} without a token`).toBe(401);
      if (open) expect(await call(method, path, operation, TOKEN), `${method} ${path} with the token`).toBe(without);
      if (!open) expect(await call(method, path, operation, 'some-other-token-0123456789'), `${method} ${path} with another token`).toBe(401);
      const status = await call(method, path, operation, TOKEN);
      expect(Object.keys(operation.responses), `${method} ${path} answered ${status}`).toContain(String(status));
      expect(open ? [405, 500] : [401, 405, 500], `${method} ${path}`).not.toContain(status);
    }
  });
});
