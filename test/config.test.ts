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
      runtimeStageDeadlineMs: 30_000,
      jobLeaseMs: 15_000,
      runtimeUrlAllow: [],
      maxUploadBytes: 4 * 1024 ** 3,
      maxMultipartBytes: 64 * 1024 ** 2,
      uploadQuotaBytes: 16 * 1024 ** 3,
      publicUrl: undefined,
      corsOrigins: [],
      logLevel: 'info',
      graphiqlPrefill: true,
      metricsToken: undefined,
      redisUrl: undefined,
      redisPrefix: 'shipyard:',
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
      UPLOAD_QUOTA_BYTES: '2048',
      PUBLIC_URL: 'https://shipyard.example.com/',
      CORS_ORIGINS: 'https://console.example.com, http://localhost:5173',
      LOG_LEVEL: 'debug',
      GRAPHIQL_PREFILL: 'false',
      METRICS_TOKEN: 'a-long-enough-metrics-token',
      RUNTIME_STAGE_DEADLINE_MS: '5000',
      JOB_LEASE_MS: '1500',
      RUNTIME_URL_ALLOW: 'runtime.example.com,*.internal',
      REDIS_URL: 'redis://127.0.0.1:6379/2',
      REDIS_PREFIX: 'staging:',
      DATABASE_URL: 'postgres://shipyard@db.example.com:5432/shipyard',
    });
    expect(config).toMatchObject({
      port: 0,
      host: '0.0.0.0',
      seed: 'none',
      publishStageDelayMs: 0,
      maxUploadBytes: 1024,
      uploadQuotaBytes: 2048,
      publicUrl: 'https://shipyard.example.com',
      corsOrigins: ['https://console.example.com', 'http://localhost:5173'],
      logLevel: 'debug',
      graphiqlPrefill: false,
      metricsToken: 'a-long-enough-metrics-token',
      runtimeStageDeadlineMs: 5000,
      jobLeaseMs: 1500,
      runtimeUrlAllow: ['runtime.example.com', '*.internal'],
      redisUrl: 'redis://127.0.0.1:6379/2',
      redisPrefix: 'staging:',
      databaseUrl: 'postgres://shipyard@db.example.com:5432/shipyard',
    });
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
    ['UPLOAD_QUOTA_BYTES', '0', /UPLOAD_QUOTA_BYTES: UPLOAD_QUOTA_BYTES must be at least 1/],
    ['PUBLIC_URL', 'shipyard.example.com', /PUBLIC_URL: PUBLIC_URL must be an http\(s\) origin/],
    ['PUBLIC_URL', 'https://shipyard.example.com/api', /PUBLIC_URL must be an http\(s\) origin/],
    ['PUBLIC_URL', 'ftp://shipyard.example.com', /PUBLIC_URL must be an http\(s\) origin/],
    ['CORS_ORIGINS', '*', /CORS_ORIGINS: CORS_ORIGINS must be a comma-separated list of http\(s\) origins/],
    ['CORS_ORIGINS', 'https://ok.example.com,https://bad.example.com/path', /CORS_ORIGINS must be a comma-separated list/],
    ['CORS_ORIGINS', 'null', /CORS_ORIGINS must be a comma-separated list/],
    ['RUNTIME_STAGE_DEADLINE_MS', '5', /RUNTIME_STAGE_DEADLINE_MS must be at least 100/],
    ['JOB_LEASE_MS', '10', /JOB_LEASE_MS: JOB_LEASE_MS must be at least 300/],
    ['RUNTIME_URL_ALLOW', 'http://x.example/path', /RUNTIME_URL_ALLOW must be comma-separated host patterns/],
    ['REDIS_URL', 'http://127.0.0.1:6379', /REDIS_URL: REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    ['REDIS_PREFIX', 'two words', /REDIS_PREFIX: REDIS_PREFIX must be printable ASCII without spaces/],
    ['DATABASE_URL', 'mysql://db.example.com/shipyard', /DATABASE_URL: DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/],
    ['DATABASE_URL', 'shipyard.db', /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/],
  ])('explains a bad %s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});
