import type { Db } from '../db/client.js';
import { AccountService } from './accounts.js';
import { AppService } from './apps.js';
import { BlobStore } from './binaries/blob-store.js';
import { BinaryService, type BinaryLimits } from './binaries/service.js';
import { DirectoryService } from './directory.js';
import { EnvironmentService, type StatusChange } from './environments.js';
import type { RuntimeProbe } from './runtime-probe.js';

export interface DomainOptions {
  /** Where blobs live (DATA_DIR). */
  dataDir: string;
  limits: BinaryLimits;
  probe: RuntimeProbe;
  onStatusChange: (change: StatusChange) => void;
}

/** Every domain service of one server, over one database. */
export function createDomain(db: Db, options: DomainOptions) {
  return {
    accounts: new AccountService(db),
    apps: new AppService(db),
    environments: new EnvironmentService(db, options.probe, options.onStatusChange),
    directory: new DirectoryService(db),
    binaries: new BinaryService(db, new BlobStore(options.dataDir), options.limits),
  };
}

export type Domain = ReturnType<typeof createDomain>;
