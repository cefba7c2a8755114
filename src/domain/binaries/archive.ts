import { XMLParser } from 'fast-xml-parser';
import { parse as parseXmlPlist, parseBinary as parseBinaryPlist, type PlistValue } from 'plist';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import BinaryXmlParser from '@devicefarmer/adbkit-apkreader/lib/apkreader/parser/binaryxml.js';

export type ArchiveKind = 'IOS' | 'ANDROID' | 'WINDOWS' | 'WEB';

export interface ArchiveIdentity {
  kind: ArchiveKind;
  /** CFBundleIdentifier, Android package or AppX Identity Name, where the binary has one. */
  bundleId: string | null;
  /** CFBundleShortVersionString, versionName or Identity Version, where the binary has one. */
  version: string | null;
}

export type Inspection = { ok: true; identity: ArchiveIdentity } | { ok: false; reason: string };

/** Real apps hold thousands of files; an archive past this is refused before reading entries. */
export const MAX_ARCHIVE_ENTRIES = 50_000;
/** Manifests are small; a larger one is not decompressed. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const iosPlist = /^Payload\/[^/]+\.app\/Info\.plist$/;

interface Found {
  iosPlist?: Entry;
  androidManifest?: Entry;
  appxManifest?: Entry;
  appxBundleManifest?: Entry;
  web: boolean;
}

const openZip = (path: string) =>
  new Promise<ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false }, (error, zip) =>
      error || !zip ? reject(error ?? new Error('not a zip')) : resolve(zip),
    ),
  );

/** Lists the entries that tell the archive's kind, without decompressing anything. */
const scanEntries = (zip: ZipFile) =>
  new Promise<Found>((resolve, reject) => {
    const found: Found = { web: false };
    zip.on('entry', (entry: Entry) => {
      const name = entry.fileName;
      if (iosPlist.test(name)) found.iosPlist ??= entry;
      else if (name === 'AndroidManifest.xml' || name === 'base/manifest/AndroidManifest.xml') found.androidManifest ??= entry;
      else if (name === 'AppxManifest.xml') found.appxManifest = entry;
      else if (name === 'AppxMetadata/AppxBundleManifest.xml') found.appxBundleManifest = entry;
      else if (name.startsWith('WEB-INF/') || name === 'index.html') found.web = true;
      zip.readEntry();
    });
    zip.once('end', () => resolve(found));
    zip.once('error', reject);
    zip.readEntry();
  });

const readEntry = (zip: ZipFile, entry: Entry) =>
  new Promise<Buffer>((resolve, reject) => {
    if (entry.uncompressedSize > MAX_MANIFEST_BYTES) return reject(new Error(`${entry.fileName} is larger than a manifest can be`));
    zip.openReadStream(entry, (error, stream) => {
      if (error || !stream) return reject(error ?? new Error('unreadable entry'));
      const chunks: Buffer[] = [];
      let total = 0;
      stream.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > MAX_MANIFEST_BYTES) stream.destroy(new Error(`${entry.fileName} is larger than a manifest can be`));
        else chunks.push(chunk);
      });
      stream.once('end', () => resolve(Buffer.concat(chunks)));
      stream.once('error', reject);
    });
  });

const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);

function plistIdentity(data: Buffer): ArchiveIdentity {
  const value: PlistValue =
    data.subarray(0, 8).toString('latin1') === 'bplist00' ? parseBinaryPlist(data) : parseXmlPlist(data.toString('utf8'));
  const dict = typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof Uint8Array) ? value : {};
  return { kind: 'IOS', bundleId: text(dict.CFBundleIdentifier), version: text(dict.CFBundleShortVersionString) };
}

interface BinaryXmlAttribute {
  name: string;
  value: unknown;
  typedValue?: { value: unknown };
}

function androidIdentity(data: Buffer): ArchiveIdentity {
  // An .aab keeps its manifest as a protocol buffer, which carries no readable identity here.
  if (data.length < 8 || data.readUInt16LE(0) !== 0x0003) return { kind: 'ANDROID', bundleId: null, version: null };
  const document = new BinaryXmlParser(data).parse() as { nodeName: string; attributes: BinaryXmlAttribute[] };
  const attribute = (name: string) => {
    const found = document.attributes.find((candidate) => candidate.name === name);
    return text(found?.value) ?? text(found?.typedValue?.value);
  };
  return { kind: 'ANDROID', bundleId: attribute('package'), version: attribute('versionName') };
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true, processEntities: false });

function appxIdentity(data: Buffer, root: 'Package' | 'Bundle'): ArchiveIdentity {
  const document = xml.parse(data.toString('utf8')) as Record<string, { Identity?: { Name?: unknown; Version?: unknown } }>;
  const identity = document[root]?.Identity;
  return { kind: 'WINDOWS', bundleId: text(identity?.Name), version: text(identity?.Version) };
}

/**
 * Tells what an archive is by its content (R14) and reads its identity (R15), decompressing only
 * the one manifest it needs and never writing anything to disk.
 */
export async function inspectArchive(path: string): Promise<Inspection> {
  let zip: ZipFile;
  try {
    zip = await openZip(path);
  } catch {
    return { ok: false, reason: 'The file is not a ZIP archive' };
  }
  try {
    if (zip.entryCount > MAX_ARCHIVE_ENTRIES)
      return { ok: false, reason: `The archive has ${zip.entryCount} entries; at most ${MAX_ARCHIVE_ENTRIES} are accepted` };
    const found = await scanEntries(zip);
    if (found.iosPlist) return { ok: true, identity: plistIdentity(await readEntry(zip, found.iosPlist)) };
    if (found.androidManifest) return { ok: true, identity: androidIdentity(await readEntry(zip, found.androidManifest)) };
    if (found.appxManifest) return { ok: true, identity: appxIdentity(await readEntry(zip, found.appxManifest), 'Package') };
    if (found.appxBundleManifest) return { ok: true, identity: appxIdentity(await readEntry(zip, found.appxBundleManifest), 'Bundle') };
    if (found.web) return { ok: true, identity: { kind: 'WEB', bundleId: null, version: null } };
    return { ok: false, reason: 'The archive holds none of the entries an app binary needs' };
  } catch (error) {
    return { ok: false, reason: `The archive could not be read: ${(error as Error).message.slice(0, 200)}` };
  } finally {
    zip.close();
  }
}
