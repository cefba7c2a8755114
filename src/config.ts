import { z } from 'zod';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

/** An http(s) origin: scheme, host and optional port, nothing after it (a trailing slash is allowed). */
const isOrigin = (value: string): boolean => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value.replace(/\/$/, '');
  } catch {
    return false;
  }
};

/** A redis:// or rediss:// URL with a host. */
const isRedisUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
};

const schema = z.object({
  PORT: integer('PORT', 0, 65535).default('4000'),
  HOST: z.string().min(1, 'HOST must not be empty').default('127.0.0.1'),
  DATA_DIR: z.string().min(1, 'DATA_DIR must not be empty').default('./data'),
  BLOB_DIR: z.string().min(1, 'BLOB_DIR must not be empty').optional(),
  ADMIN_TOKEN: z
    .string()
    .min(16, 'ADMIN_TOKEN must be at least 16 characters')
    .max(512, 'ADMIN_TOKEN must be at most 512 characters')
    .regex(/^[\x21-\x7e]+$/, 'ADMIN_TOKEN must be printable ASCII without spaces')
    .optional(),
  SEED: z.enum(['demo', 'none'], { message: 'SEED must be demo or none' }).default('demo'),
  PUBLISH_STAGE_DELAY_MS: integer('PUBLISH_STAGE_DELAY_MS', 0, 600_000).default('300'),
  RUNTIME_STAGE_DEADLINE_MS: integer('RUNTIME_STAGE_DEADLINE_MS', 100, 3_600_000).default('30000'),
  JOB_LEASE_MS: integer('JOB_LEASE_MS', 300, 3_600_000).default('15000'),
  RUNTIME_URL_ALLOW: z
    .string()
    .max(2000, 'RUNTIME_URL_ALLOW must be at most 2000 characters')
    .regex(/^[A-Za-z0-9.*:[\]-]+(,[A-Za-z0-9.*:[\]-]+)*$/, 'RUNTIME_URL_ALLOW must be comma-separated host patterns such as runtime.example.com,*.internal')
    .optional(),
  MAX_UPLOAD_BYTES: integer('MAX_UPLOAD_BYTES', 1, Number.MAX_SAFE_INTEGER).default(String(4 * GIB)),
  MAX_MULTIPART_BYTES: integer('MAX_MULTIPART_BYTES', 1, Number.MAX_SAFE_INTEGER).default(String(64 * MIB)),
  UPLOAD_QUOTA_BYTES: integer('UPLOAD_QUOTA_BYTES', 1, Number.MAX_SAFE_INTEGER).default(String(16 * GIB)),
  PUBLIC_URL: z
    .string()
    .refine(isOrigin, 'PUBLIC_URL must be an http(s) origin such as https://shipyard.example.com, without a path')
    .transform((value) => value.replace(/\/$/, ''))
    .optional(),
  CORS_ORIGINS: z
    .string()
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter((origin) => origin !== ''))
    .refine(
      (origins) => origins.every(isOrigin),
      'CORS_ORIGINS must be a comma-separated list of http(s) origins such as https://console.example.com ("*" is not allowed)',
    )
    .transform((origins) => origins.map((origin) => origin.replace(/\/$/, '')))
    .default(''),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  GRAPHIQL_PREFILL: z.enum(['true', 'false'], { message: 'GRAPHIQL_PREFILL must be true or false' }).default('true'),
  METRICS_TOKEN: z
    .string()
    .min(16, 'METRICS_TOKEN must be at least 16 characters')
    .max(512, 'METRICS_TOKEN must be at most 512 characters')
    .regex(/^[\x21-\x7e]+$/, 'METRICS_TOKEN must be printable ASCII without spaces')
    .optional(),
  REDIS_URL: z.string().refine(isRedisUrl, 'REDIS_URL must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379').optional(),
  REDIS_PREFIX: z
    .string()
    .max(100, 'REDIS_PREFIX must be at most 100 characters')
    .regex(/^[\x21-\x7e]+$/, 'REDIS_PREFIX must be printable ASCII without spaces')
    .default('shipyard:'),
  DATABASE_URL: z
    .string()
    .max(2000, 'DATABASE_URL must be at most 2000 characters')
    .refine(isPostgresUrl, 'DATABASE_URL must be a postgres:// or postgresql:// URL such as postgres://shipyard@db.example.com/shipyard')
    .optional(),
});

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** BLOB_DIR: blobs shared by every instance (docs/binaries.md); unset, DATA_DIR/blobs. */
  blobDir?: string | undefined;
  adminToken: string | undefined;
  seed: 'demo' | 'none';
  publishStageDelayMs: number;
  /** R51: how long calls to a remote runtime are tried again before the stage fails RUNTIME_UNREACHABLE. */
  runtimeStageDeadlineMs: number;
  /**
   * R59: how long an instance holds a publish job (or the background work) without renewing; a
   * dead instance's jobs are recovered within it. Unset (a test's own config): 15 s.
   */
  jobLeaseMs?: number;
  /** R47: host patterns environment URLs must match; empty allows any host. */
  runtimeUrlAllow: string[];
  maxUploadBytes: number;
  maxMultipartBytes: number;
  /** Declared bytes of streamed uploads an account may have outstanding at once (R69). */
  uploadQuotaBytes: number;
  /** The origin of every link Shipyard answers (R64); unset means the address it listens on. */
  publicUrl: string | undefined;
  /** Origins allowed cross-origin access (R63); empty means none. */
  corsOrigins: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** R65: whether GraphiQL and the dashboard may be pre-filled with the admin token at all. */
  graphiqlPrefill: boolean;
  /** R61: when set, GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>`. */
  metricsToken: string | undefined;
  /** R57: live updates travel between instances through this Redis; unset keeps them in-process. */
  redisUrl: string | undefined;
  /** Put before every Redis channel name, so that deployments sharing one Redis stay apart. */
  redisPrefix: string;
  /** R57: PostgreSQL at this URL instead of the SQLite file in the data directory. */
  databaseUrl: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the configuration from environment variables (R3); empty values count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(schema.shape).flatMap((key) => (env[key] ? [[key, env[key]]] : [])),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  return {
    port: c.PORT,
    host: c.HOST,
    dataDir: c.DATA_DIR,
    blobDir: c.BLOB_DIR,
    adminToken: c.ADMIN_TOKEN,
    seed: c.SEED,
    publishStageDelayMs: c.PUBLISH_STAGE_DELAY_MS,
    runtimeStageDeadlineMs: c.RUNTIME_STAGE_DEADLINE_MS,
    jobLeaseMs: c.JOB_LEASE_MS,
    runtimeUrlAllow: c.RUNTIME_URL_ALLOW ? c.RUNTIME_URL_ALLOW.split(',') : [],
    maxUploadBytes: c.MAX_UPLOAD_BYTES,
    maxMultipartBytes: c.MAX_MULTIPART_BYTES,
    uploadQuotaBytes: c.UPLOAD_QUOTA_BYTES,
    publicUrl: c.PUBLIC_URL,
    corsOrigins: c.CORS_ORIGINS,
    logLevel: c.LOG_LEVEL,
    graphiqlPrefill: c.GRAPHIQL_PREFILL === 'true',
    metricsToken: c.METRICS_TOKEN,
    redisUrl: c.REDIS_URL,
    redisPrefix: c.REDIS_PREFIX,
    databaseUrl: c.DATABASE_URL,
  };
}
