import type { Readable } from 'node:stream';
import type { CommandOf, CommandResult, CommandType } from './commands.js';
import type { ManagementApp, RuntimeInfo, ServicesState, StoreNotification } from './types.js';

/** A file to send to a runtime: opened again for every attempt, so a retry starts afresh. */
export interface BlobSource {
  sha256: string;
  sizeBytes: number;
  open(): Readable;
}

/**
 * One environment's runtime (R45), embedded or across the network: what it holds (reads), the
 * changes it makes (commands, each under an idempotency key, R49), and the files those changes
 * refer to. Restore points (R50) are commands too: `createRestorePoint`, `restore`,
 * `discardRestorePoint`. Failures are RuntimeUnreachableError or RuntimeRefusedError.
 */
export interface Runtime {
  /** Where it is: `embedded`, or the runtime server's URL. */
  readonly location: string;
  info(): Promise<RuntimeInfo>;
  management(): Promise<ManagementApp[]>;
  services(): Promise<ServicesState>;
  notifications(directoryUserIds: readonly number[]): Promise<StoreNotification[]>;
  hasBlob(sha256: string): Promise<boolean>;
  /** Streams a file to the runtime, which verifies its SHA-256 (R48); held for the restore point until it ends. */
  putBlob(blob: BlobSource, restorePoint: string): Promise<void>;
  run<T extends CommandType>(key: string, command: CommandOf<T>): Promise<CommandResult<T>>;
}
