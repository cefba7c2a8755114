import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { androidBinaryXml, apkWithManifest, loopingAndroidManifest } from './fixtures.js';
import { fuzzRuns, mutated, startFuzzing, tally } from './fuzz-kit.js';

const fuzzing = startFuzzing();
afterAll(() => fuzzing.close());

const identifier = fc.stringMatching(/^[a-z][a-z0-9_.]{0,40}$/);
const version = fc.stringMatching(/^[0-9]{1,3}(\.[0-9]{1,3}){0,2}$/);

describe('fuzzing the Android binary-XML manifest parser (R68)', () => {
  it('reads the identity of generated manifests, whatever other attributes they carry', async () => {
    await fc.assert(
      fc.asyncProperty(identifier, version, fc.dictionary(fc.stringMatching(/^[a-zA-Z]{1,12}$/), fc.string({ maxLength: 30 }), { maxKeys: 6 }), async (pkg, versionName, extra) => {
        const inspection = await fuzzing.inspect(await apkWithManifest(androidBinaryXml({ ...extra, package: pkg, versionName })));
        expect(inspection).toEqual({ ok: true, identity: { kind: 'ANDROID', bundleId: pkg, version: versionName } });
      }),
      fuzzRuns(120),
    );
  });

  it('answers every mutated manifest with an identity or a refusal, never a crash or a hang', async () => {
    const original = androidBinaryXml({ package: 'com.example.fuzz', versionName: '1.2.3', label: 'Fuzz' });
    const seen = tally();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { arbitrary: mutated(original), weight: 4 },
          // Past the 8-byte XML header only, so that the chunks are what varies.
          { arbitrary: mutated(original, { from: 8 }), weight: 4 },
          { arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.concat([original.subarray(0, 8), Buffer.from(bytes)])), weight: 2 },
          { arbitrary: fc.constant(loopingAndroidManifest()), weight: 1 },
        ),
        async (manifest) => {
          seen.add(await fuzzing.inspect(await apkWithManifest(manifest)));
        },
      ),
      fuzzRuns(200),
    );
    console.log(`android manifest fuzz: ${seen.summary()}`);
  });
});
