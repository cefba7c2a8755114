import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { apk, ipa, manyEntryZip, zip } from './fixtures.js';
import { fuzzRuns, mutated, startFuzzing, tally } from './fuzz-kit.js';

const fuzzing = startFuzzing();
afterAll(() => fuzzing.close());

/** Where the central directory starts: the first central file header's signature. */
const directoryStart = (archive: Buffer) => archive.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));

const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const entryName = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')),
  fc.constantFrom('index.html', 'WEB-INF/web.xml', 'AppxManifest.xml', 'Payload/A.app/Info.plist', 'AndroidManifest.xml'),
);

describe('fuzzing the ZIP directory reader (R68)', () => {
  it('tells the kind of generated archives by their entries alone', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(entryName, { minLength: 1, maxLength: 12 }), async (names) => {
        const inspection = await fuzzing.inspect(await zip(Object.fromEntries(names.map((name) => [name, 'x']))));
        // Manifests here hold 'x', which no parser takes as an identity; the kind follows the entries.
        const web = names.some((name) => name === 'index.html' || name.startsWith('WEB-INF/'));
        const manifest = names.some((name) => ['AppxManifest.xml', 'Payload/A.app/Info.plist', 'AndroidManifest.xml'].includes(name));
        if (!manifest) expect(inspection.ok).toBe(web);
        if (inspection.ok && !manifest) expect(inspection.identity).toEqual({ kind: 'WEB', bundleId: null, version: null });
      }),
      fuzzRuns(120),
    );
  });

  it('answers every mutated central directory, end record and local header with an identity or a refusal', async () => {
    const archives = [await ipa(), await apk(), manyEntryZip(40)];
    const seen = tally();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...archives).chain((archive) =>
          fc.oneof(
            { arbitrary: mutated(archive, { from: directoryStart(archive) }), weight: 6 },
            { arbitrary: mutated(archive, { from: archive.length - 22 }), weight: 3 },
            { arbitrary: mutated(archive), weight: 3 },
          ),
        ),
        async (archive) => {
          seen.add(await fuzzing.inspect(archive));
        },
      ),
      fuzzRuns(250),
    );
    console.log(`ZIP fuzz: ${seen.summary()}`);
  });
});
