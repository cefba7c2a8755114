import fc from 'fast-check';
import { build as buildXmlPlist, buildBinary as buildBinaryPlist, type PlistValue } from 'plist';
import { afterAll, describe, expect, it } from 'vitest';
import { expandingBinaryPlist, ipaWithPlist } from './fixtures.js';
import { fuzzRuns, mutated, startFuzzing, tally } from './fuzz-kit.js';

const fuzzing = startFuzzing();
afterAll(() => fuzzing.close());

const identifier = fc.stringMatching(/^[A-Za-z][A-Za-z0-9.-]{0,40}$/);
const version = fc.stringMatching(/^[0-9]{1,3}(\.[0-9]{1,3}){0,2}$/);
/** Other Info.plist content: nested dictionaries and arrays of plain values. */
const extra = fc.dictionary(
  fc.stringMatching(/^[A-Za-z]{1,16}$/),
  fc.oneof(fc.stringMatching(/^[ -~]{0,20}$/), fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 5 })),
  { maxKeys: 8 },
);

const entity = (count: number) =>
  `<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "${'x'.repeat(64)}">${Array.from({ length: count }, (_, i) => `<!ENTITY e${i + 1} "${`&${i === 0 ? 'a' : `e${i}`};`.repeat(10)}">`).join('')}]><plist><dict><key>CFBundleIdentifier</key><string>&e${count};</string></dict></plist>`;

describe('fuzzing the plist parsers, XML and binary (R68)', () => {
  it('reads the identity of generated plists in both encodings', async () => {
    await fc.assert(
      fc.asyncProperty(identifier, version, extra, fc.boolean(), async (bundleId, shortVersion, rest, binary) => {
        const plist: PlistValue = { ...rest, CFBundleIdentifier: bundleId, CFBundleShortVersionString: shortVersion };
        const inspection = await fuzzing.inspect(await ipaWithPlist(binary ? Buffer.from(buildBinaryPlist(plist)) : buildXmlPlist(plist)));
        expect(inspection).toEqual({ ok: true, identity: { kind: 'IOS', bundleId, version: shortVersion } });
      }),
      fuzzRuns(120),
    );
  });

  it('answers every mutated binary plist, and reference bombs, with an identity or a refusal', async () => {
    const original = Buffer.from(buildBinaryPlist({ CFBundleIdentifier: 'com.example.fuzz', CFBundleShortVersionString: '1.2', List: [1, 2, 'three'], Nested: { a: true } }));
    const seen = tally();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { arbitrary: mutated(original), weight: 8 },
          // The trailer (last 32 bytes) holds the counts and offsets the parser trusts.
          { arbitrary: mutated(original, { from: original.length - 32 }), weight: 8 },
          { arbitrary: fc.integer({ min: 1, max: 60 }).map((depth) => expandingBinaryPlist(depth)), weight: 1 },
        ),
        async (plist) => {
          seen.add(await fuzzing.inspect(await ipaWithPlist(plist)));
        },
      ),
      fuzzRuns(200),
    );
    console.log(`binary plist fuzz: ${seen.summary()}`);
  });

  it('answers every mutated XML plist, and entity expansion, with an identity or a refusal', async () => {
    const original = Buffer.from(buildXmlPlist({ CFBundleIdentifier: 'com.example.fuzz', CFBundleShortVersionString: '1.2', List: [1, 'two'], Nested: { a: true } }));
    const seen = tally();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { arbitrary: mutated(original), weight: 8 },
          { arbitrary: fc.constantFrom('<', '>', '<!--', '<![CDATA[', '&amp;', '&#0;', '</dict>', '<dict>', '<array>', '<plist>').chain((fragment) => fc.nat({ max: original.length }).map((at) => Buffer.concat([original.subarray(0, at), Buffer.from(fragment), original.subarray(at)]))), weight: 4 },
          { arbitrary: fc.integer({ min: 1, max: 12 }).map((count) => Buffer.from(entity(count))), weight: 1 },
          { arbitrary: fc.integer({ min: 1, max: 20_000 }).map((depth) => Buffer.from(`<plist>${'<array>'.repeat(depth)}${'</array>'.repeat(depth)}</plist>`)), weight: 1 },
        ),
        async (plist) => {
          seen.add(await fuzzing.inspect(await ipaWithPlist(plist)));
        },
      ),
      fuzzRuns(150),
    );
    console.log(`XML plist fuzz: ${seen.summary()}`);
  });
});
