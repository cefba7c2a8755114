import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration (R3)', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 4000,
      host: '127.0.0.1',
      dataDir: './data',
      adminToken: undefined,
      seed: 'demo',
      publishStageDelayMs: 300,
      maxUploadBytes: 4 * 1024 ** 3,
      maxMultipartBytes: 64 * 1024 ** 2,
      logLevel: 'info',
      graphiqlPrefill: true,
      metricsToken: undefined,
      runtimeStageDeadlineMs: 30_000,
      runtimeUrlAllow: [],
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '0.0.0.0',
      DATA_DIR: '/tmp/x',
      ADMIN_TOKEN: 'a-long-enough-admin-token',
      SEED: 'none',
      PUBLISH_STAGE_DELAY_MS: '0',
      MAX_UPLOAD_BYTES: '1024',
      MAX_MULTIPART_BYTES: '512',
      LOG_LEVEL: 'debug',
      GRAPHIQL_PREFILL: 'false',
      METRICS_TOKEN: 'a-long-enough-metrics-token',
    });
    expect(config).toMatchObject({ port: 0, host: '0.0.0.0', seed: 'none', publishStageDelayMs: 0, maxUploadBytes: 1024, logLevel: 'debug', graphiqlPrefill: false, metricsToken: 'a-long-enough-metrics-token' });
  });

  it.each([
    ['PORT', 'eighty', /PORT: PORT must be a whole number/],
    ['PORT', '70000', /PORT: PORT must be at most 65535/],
    ['SEED', 'lots', /SEED: SEED must be demo or none/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: LOG_LEVEL must be one of/],
    ['ADMIN_TOKEN', 'short', /ADMIN_TOKEN: ADMIN_TOKEN must be at least 16 characters/],
    ['GRAPHIQL_PREFILL', 'no', /GRAPHIQL_PREFILL: GRAPHIQL_PREFILL must be true or false/],
    ['METRICS_TOKEN', 'short', /METRICS_TOKEN: METRICS_TOKEN must be at least 16 characters/],
    ['MAX_UPLOAD_BYTES', '-5', /MAX_UPLOAD_BYTES: MAX_UPLOAD_BYTES must be a whole number/],
    ['PUBLISH_STAGE_DELAY_MS', '1.5', /PUBLISH_STAGE_DELAY_MS must be a whole number/],
  ])('explains a bad %s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});
