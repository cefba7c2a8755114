import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aab, apk, apkWithManifest, appx, expandingBinaryPlist, ipa, ipaWithPlist, loopingAndroidManifest, war, webZip, zip } from './fixtures.js';
import { multipartUpload, startServer, type TestServer } from './kit.js';

const TIME_LIMIT_MS = 2_000;
const MEMORY_LIMIT_MB = 64;

let t: TestServer;
let appId: string;
beforeAll(async () => {
  t = await startServer({}, { inspectorLimits: { timeLimitMs: TIME_LIMIT_MS, memoryLimitMb: MEMORY_LIMIT_MB, workers: 2 } });
  appId = (await t.admin.request('mutation { createApp(input: { name: "Hostile" }) { app { id } } }')).createApp.app.id;
});
afterAll(() => t.stop());

interface Payload {
  binary: { id: string; version: string; bundleId: string | null } | null;
  userErrors: { code: string; message: string; field: string[] }[];
}

const upload = async (platform: string, name: string, content: Buffer, version: string | null = null): Promise<Payload> => {
  const response = await multipartUpload(t.admin, { appId, platform, ...(version ? { version } : {}) }, { name, content });
  expect(response.status).toBe(200);
  expect(response.body.errors).toBeUndefined();
  return (response.body.data as { uploadClientBinary: Payload }).uploadClientBinary;
};

/**
 * Runs `work` while asking /ready over and over; answers how many times /ready answered 200
 * while the work was still under way. A blocked event loop answers none (each ask gives up
 * after a few seconds, so a hung server fails the test rather than hanging it).
 */
async function readyAnswersDuring<T>(work: Promise<T>): Promise<{ result: T; answers: number }> {
  let done = false;
  let answers = 0;
  const watched = work.finally(() => {
    done = true;
  });
  const poll = (async () => {
    while (!done) {
      const response = await fetch(`${t.url}/ready`, { signal: AbortSignal.timeout(5_000) });
      expect(response.status).toBe(200);
      await response.body?.cancel();
      if (!done) answers += 1;
    }
  })();
  const [result] = await Promise.all([watched, poll]);
  return { result, answers };
}

describe('parser bombs are read in worker threads with limits (R68)', () => {
  it('refuses an .apk whose manifest chunk declares size 0 (the parser looped forever) within the time limit, /ready answering meanwhile', async () => {
    const { result, answers } = await readyAnswersDuring(upload('ANDROID_PHONE', 'loop.apk', await apkWithManifest(loopingAndroidManifest())));
    expect(result).toEqual({
      binary: null,
      userErrors: [{ code: 'INVALID_BINARY', message: expect.stringMatching(/took longer than 2 s/), field: ['input', 'file'] }],
    });
    expect(answers).toBeGreaterThan(0);
  });

  it('refuses an .ipa whose ~200-byte binary Info.plist expands exponentially (heap death) within the memory limit, /ready answering meanwhile', async () => {
    const plist = expandingBinaryPlist();
    expect(plist.length).toBeLessThan(256);
    const { result, answers } = await readyAnswersDuring(upload('IOS_PHONE', 'bomb.ipa', await ipaWithPlist(plist)));
    expect(result).toEqual({
      binary: null,
      userErrors: [
        {
          code: 'INVALID_BINARY',
          message: expect.stringMatching(/needed more than 64 MB of memory|took longer than 2 s/),
          field: ['input', 'file'],
        },
      ],
    });
    expect(answers).toBeGreaterThan(0);
  });

  it('keeps working after bombs: several at once, then honest files get their identity', async () => {
    const loop = await apkWithManifest(loopingAndroidManifest());
    const bomb = await ipaWithPlist(expandingBinaryPlist());
    const results = await Promise.all([
      upload('ANDROID_PHONE', 'loop.apk', loop),
      upload('IOS_PHONE', 'bomb.ipa', bomb),
      upload('ANDROID_PHONE', 'loop2.apk', loop),
      upload('ANDROID_PHONE', 'honest.apk', await apk({ package: 'com.example.after', versionName: '5.0' })),
    ]);
    expect(results.slice(0, 3).map((r) => r.userErrors.map((e) => e.code))).toEqual([['INVALID_BINARY'], ['INVALID_BINARY'], ['INVALID_BINARY']]);
    expect(results[3]).toMatchObject({ binary: { version: '5.0', bundleId: 'com.example.after' }, userErrors: [] });
    const after = await upload('IOS_PHONE', 'after.ipa', await ipa({ CFBundleShortVersionString: '6.1', CFBundleIdentifier: 'com.example.after' }));
    expect(after).toMatchObject({ binary: { version: '6.1', bundleId: 'com.example.after' }, userErrors: [] });
  });
});

const CREATE_UPLOAD = `mutation ($input: CreateBinaryUploadInput!) { createBinaryUpload(input: $input) { upload { id } userErrors { code message } } }`;
const platforms = ['IOS_PHONE', 'IOS_TABLET', 'ANDROID_PHONE', 'ANDROID_TABLET', 'WINDOWS', 'WEB'] as const;
const kindOf = { IOS_PHONE: 'IOS', IOS_TABLET: 'IOS', ANDROID_PHONE: 'ANDROID', ANDROID_TABLET: 'ANDROID', WINDOWS: 'WINDOWS', WEB: 'WEB' } as const;
/** One real file of every kind, under each name its platform takes; `version` is given where the file states none. */
const files = async () =>
  [
    { kind: 'IOS', name: 'app.ipa', content: await ipa({ CFBundleShortVersionString: '1.0' }), version: null },
    { kind: 'ANDROID', name: 'app.apk', content: await apk({ versionName: '1.0' }), version: null },
    { kind: 'ANDROID', name: 'app.aab', content: await aab(), version: '2.0' },
    { kind: 'WINDOWS', name: 'app.appx', content: await appx({ version: '1.0.0.0' }), version: null },
    { kind: 'WINDOWS', name: 'app.msix', content: await appx({ version: '2.0.0.0' }), version: null },
    {
      kind: 'WINDOWS',
      name: 'app.appxbundle',
      content: await zip({ 'AppxMetadata/AppxBundleManifest.xml': '<Bundle><Identity Name="Example.Bundle" Version="3.0.0.0"/></Bundle>' }),
      version: null,
    },
    { kind: 'WINDOWS', name: 'app.xap', content: await appx({ version: '4.0.0.0' }), version: null },
    { kind: 'WEB', name: 'app.war', content: await war(), version: '1.0' },
    { kind: 'WEB', name: 'app.zip', content: await webZip(), version: '2.0' },
  ] as const;

describe('a file of another platform\'s kind is PLATFORM_MISMATCH (R14)', () => {
  it('answers PLATFORM_MISMATCH for every platform and every other kind of file, multipart', async () => {
    const all = await files();
    const mismatches: string[] = [];
    for (const platform of platforms) {
      for (const file of all.filter((candidate) => candidate.kind !== kindOf[platform])) {
        const payload = await upload(platform, file.name, file.content, '1.0');
        expect(payload.binary, `${file.name} as ${platform}`).toBeNull();
        expect(payload.userErrors.map((e) => e.code), `${file.name} as ${platform}`).toEqual(['PLATFORM_MISMATCH']);
        mismatches.push(payload.userErrors[0]?.message ?? '');
      }
    }
    // 6 platforms × 9 files, less the 12 pairs that match.
    expect(mismatches).toHaveLength(42);
    expect(mismatches).toContain('The file is an Android app, not an iOS app for IOS_PHONE');
  });

  it('accepts each file under its own platform (positive control of the table above)', async () => {
    const all = await files();
    for (const platform of platforms) {
      for (const file of all.filter((candidate) => candidate.kind === kindOf[platform])) {
        const payload = await upload(platform, file.name, file.content, file.version);
        expect(payload.userErrors, `${file.name} as ${platform}`).toEqual([]);
      }
    }
  });

  it('answers PLATFORM_MISMATCH for a file name of another kind when a streamed upload is created', async () => {
    const names = { IOS: 'app.ipa', ANDROID: 'app.apk', WINDOWS: 'app.msix', WEB: 'app.war' } as const;
    for (const platform of platforms) {
      for (const [kind, fileName] of Object.entries(names)) {
        const payload = (await t.admin.request(CREATE_UPLOAD, { input: { appId, platform, fileName, sizeBytes: 10 } })).createBinaryUpload;
        if (kind === kindOf[platform]) expect(payload.userErrors, `${fileName} as ${platform}`).toEqual([]);
        else expect(payload.userErrors.map((e: { code: string }) => e.code), `${fileName} as ${platform}`).toEqual(['PLATFORM_MISMATCH']);
      }
    }
  });

  it('still answers INVALID_BINARY, in good English, for a name no platform takes or a right file under a wrong name', async () => {
    const cases: [string, string, Buffer, string][] = [
      ['IOS_PHONE', 'app.txt', await ipa(), 'An IOS_PHONE binary is a .ipa file'],
      ['ANDROID_TABLET', 'app.exe', await apk(), 'An ANDROID_TABLET binary is a .apk or .aab file'],
      ['WINDOWS', 'app.tar', await appx(), 'A WINDOWS binary is a .appx, .msix, .appxbundle or .xap file'],
      ['WEB', 'app.html', await webZip(), 'A WEB binary is a .war or .zip file'],
      // Named for the web, but an iOS app as IOS_PHONE asks: the name is what is wrong.
      ['IOS_PHONE', 'app.zip', await ipa(), 'An IOS_PHONE binary is a .ipa file'],
      // Named for Android, but not an archive at all.
      ['IOS_PHONE', 'app.apk', Buffer.from('not a zip'), 'An IOS_PHONE binary is a .ipa file'],
    ];
    for (const [platform, name, content, message] of cases) {
      const payload = await upload(platform, name, content, '1.0');
      expect(payload.userErrors, `${name} as ${platform}`).toEqual([{ code: 'INVALID_BINARY', message, field: ['input', 'file'] }]);
    }
  });
});
