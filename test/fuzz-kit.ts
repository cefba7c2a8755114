import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { ArchiveKind, Inspection } from '../src/domain/binaries/archive.js';
import { ArchiveInspector } from '../src/domain/binaries/inspector.js';

/**
 * The fuzz suites drive the very pool the server reads uploads with (R68), with a short time
 * limit so that inputs which make a parser loop cost little. Each suite stops after a bounded
 * number of cases or seconds, whichever comes first, so that it stays cheap on a loaded machine.
 */
export const FUZZ_LIMITS = { timeLimitMs: 500, memoryLimitMb: 64, workers: 2 };
export const fuzzRuns = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, interruptAfterTimeLimit: 15_000, markInterruptAsFailure: false });

export interface Fuzzing {
  /** Writes the archive to a file and reads it through the pool; checks the answer is well formed. */
  inspect(archive: Buffer): Promise<Inspection>;
  close(): Promise<void>;
}

export function startFuzzing(): Fuzzing {
  const dir = mkdtempSync(join(tmpdir(), 'shipyard-fuzz-'));
  const inspector = new ArchiveInspector(FUZZ_LIMITS);
  let count = 0;
  return {
    async inspect(archive) {
      count += 1;
      const path = join(dir, `case-${count}`);
      writeFileSync(path, archive);
      const inspection = await inspector.inspect(path);
      rmSync(path, { force: true });
      expectWellFormed(inspection);
      return inspection;
    },
    async close() {
      await inspector.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const kinds: ArchiveKind[] = ['IOS', 'ANDROID', 'WINDOWS', 'WEB'];

/** An identity with text or null, or a refusal with a reason: nothing else may come back. */
export function expectWellFormed(inspection: Inspection): void {
  if (inspection.ok) {
    expect(kinds).toContain(inspection.identity.kind);
    for (const value of [inspection.identity.bundleId, inspection.identity.version]) expect(value === null || typeof value === 'string').toBe(true);
  } else {
    expect(typeof inspection.reason).toBe('string');
    expect(inspection.reason.length).toBeGreaterThan(0);
  }
}

/** Byte-level mutations of a valid input: overwrite, truncate, duplicate a slice, insert bytes. */
export const mutated = (original: Buffer, { from = 0 } = {}): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.array(fc.record({ at: fc.nat({ max: Math.max(0, original.length - from - 1) }), byte: fc.oneof(fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01), fc.nat({ max: 255 })) }), { minLength: 1, maxLength: 8 }).map((edits) => {
      const copy = Buffer.from(original);
      for (const { at, byte } of edits) copy[from + at] = byte;
      return copy;
    }),
    fc.nat({ max: original.length }).map((length) => original.subarray(0, length)),
    fc.tuple(fc.nat({ max: original.length }), fc.nat({ max: original.length }), fc.nat({ max: original.length })).map(([a, b, at]) =>
      Buffer.concat([original.subarray(0, at), original.subarray(Math.min(a, b), Math.max(a, b)), original.subarray(at)]),
    ),
    fc.tuple(fc.nat({ max: original.length }), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, bytes]) =>
      Buffer.concat([original.subarray(0, at), Buffer.from(bytes), original.subarray(at)]),
    ),
  );

/** Counts the kinds of answers a suite saw, to show that it reached past the first checks. */
export function tally() {
  const counts = new Map<string, number>();
  return {
    add(inspection: Inspection) {
      const key = inspection.ok ? `ok ${inspection.identity.kind}` : inspection.reason.replace(/\d+|'[^']*'/g, 'N').slice(0, 60);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    },
    summary: () => [...counts].map(([key, n]) => `${n}× ${key}`).join(', '),
  };
}
