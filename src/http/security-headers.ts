import type { ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';

/** R63: every response says its content type is meant as declared. */
export const BASELINE_SECURITY_HEADERS: Readonly<Record<string, string>> = { 'x-content-type-options': 'nosniff' };

/**
 * R63: what every HTML page Shipyard serves carries besides its Content-Security-Policy (which
 * each page sets for its own assets): no framing by other sites, no content sniffing.
 */
export const HTML_SECURITY_HEADERS: Readonly<Record<string, string>> = { ...BASELINE_SECURITY_HEADERS, 'x-frame-options': 'DENY' };

export function setBaselineSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(BASELINE_SECURITY_HEADERS)) res.setHeader(name, value);
}

export function setHtmlSecurityHeaders(res: ServerResponse | Response): void {
  for (const [name, value] of Object.entries(HTML_SECURITY_HEADERS)) {
    if ('headers' in res) res.headers.set(name, value);
    else res.setHeader(name, value);
  }
}

/** The same for the pages yoga serves itself (GraphiQL). */
export function useHtmlSecurityHeaders(): Plugin {
  return {
    onResponse({ response }) {
      if ((response.headers.get('content-type') ?? '').includes('text/html')) setHtmlSecurityHeaders(response);
    },
  };
}
