import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** Structured logs on stdout; tests pass `silent`. */
export const createLogger = (level: Config['logLevel']): Logger => pino({ level, base: { service: 'shipyard' } });
