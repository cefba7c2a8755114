import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { appx, appxManifestXml, zip } from './fixtures.js';
import { fuzzRuns, mutated, startFuzzing, tally } from './fuzz-kit.js';

const fuzzing = startFuzzing();
afterAll(() => fuzzing.close());

const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9.-]{0,40}$/);
const version = fc.stringMatching(/^[0-9]{1,4}(\.[0-9]{1,4}){0,3}$/);
const manifestOf = (xml: Buffer | string) => zip({ 'AppxManifest.xml': xml, 'App.exe': 'x' });
const xmlFragment = fc.constantFrom('<', '>', '"', '<!--', '<![CDATA[', '&amp;', '&#0;', '&x;', '</Package>', '<Identity ', '<?xml ?>', '<!DOCTYPE Package [<!ENTITY x "y">]>');

describe('fuzzing the AppX manifest reader (R68)', () => {
  it('reads the Identity of generated manifests, packages and bundles', async () => {
    await fc.assert(
      fc.asyncProperty(name, version, fc.boolean(), async (identityName, identityVersion, bundle) => {
        const archive = bundle
          ? await zip({ 'AppxMetadata/AppxBundleManifest.xml': `<Bundle xmlns="http://schemas.microsoft.com/appx/2013/bundle"><Identity Name="${identityName}" Version="${identityVersion}"/></Bundle>` })
          : await appx({ name: identityName, version: identityVersion });
        expect(await fuzzing.inspect(archive)).toEqual({ ok: true, identity: { kind: 'WINDOWS', bundleId: identityName, version: identityVersion } });
      }),
      fuzzRuns(120),
    );
  });

  it('answers every mutated or hostile manifest with an identity or a refusal', async () => {
    const original = appxManifestXml();
    const seen = tally();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { arbitrary: mutated(original), weight: 6 },
          { arbitrary: fc.tuple(xmlFragment, fc.nat({ max: original.length })).map(([fragment, at]) => Buffer.concat([original.subarray(0, at), Buffer.from(fragment), original.subarray(at)])), weight: 4 },
          { arbitrary: fc.string({ maxLength: 200 }).map((text) => Buffer.from(text)), weight: 2 },
          { arbitrary: fc.integer({ min: 1, max: 50_000 }).map((depth) => Buffer.from(`<Package>${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</Package>`)), weight: 1 },
          { arbitrary: fc.integer({ min: 1, max: 20_000 }).map((count) => Buffer.from(`<Package><Identity ${Array.from({ length: count }, (_, i) => `a${i}="${i}"`).join(' ')} Name="N" Version="1"/></Package>`)), weight: 1 },
        ),
        async (manifest) => {
          seen.add(await fuzzing.inspect(await manifestOf(manifest)));
        },
      ),
      fuzzRuns(250),
    );
    console.log(`AppX fuzz: ${seen.summary()}`);
  });
});
