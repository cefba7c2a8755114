/** The runtime did not answer (connection errors, timeouts, 5xx) within the deadline (R51). */
export class RuntimeUnreachableError extends Error {
  override name = 'RuntimeUnreachableError';
}

/** The runtime answered, and refused: what it says is wrong, with a code of its own. */
export class RuntimeRefusedError extends Error {
  override name = 'RuntimeRefusedError';
  constructor(
    readonly code: 'SHA256_MISMATCH' | 'BLOB_MISSING' | 'UNAUTHORIZED' | 'NOT_A_RUNTIME' | 'INVALID_COMMAND' | 'CONFLICT',
    message: string,
  ) {
    super(message);
  }
}
