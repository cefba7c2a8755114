import { build as buildXmlPlist, buildBinary as buildBinaryPlist } from 'plist';
import { zipArchive as zip } from '../src/domain/samples.js';

export { zip };

const infoPlist = { CFBundleIdentifier: 'com.example.banking', CFBundleShortVersionString: '1.0', CFBundleName: 'Banking' };

export const ipa = (identity: Partial<typeof infoPlist> = {}, { binary = false } = {}) => {
  const plist = { ...infoPlist, ...identity };
  return zip({
    'Payload/Banking.app/Info.plist': binary ? Buffer.from(buildBinaryPlist(plist)) : buildXmlPlist(plist),
    'Payload/Banking.app/Banking': Buffer.alloc(1024, 7),
  });
};

/**
 * Android's binary XML for `<manifest package=… android:versionName=…>`: a string pool, then a
 * start and an end element chunk, as aapt writes them.
 */
export function androidBinaryXml(attributes: Record<string, string>): Buffer {
  const strings = ['manifest', ...Object.keys(attributes), ...Object.values(attributes)];
  const index = (value: string) => strings.indexOf(value);

  const encoded = strings.map((value) => {
    const buffer = Buffer.alloc(2 + value.length * 2 + 2);
    buffer.writeUInt16LE(value.length, 0);
    buffer.write(value, 2, 'utf16le');
    return buffer;
  });
  const stringData = Buffer.concat(encoded);
  const padding = (4 - (stringData.length % 4)) % 4;
  const poolHeaderSize = 28;
  const offsets = Buffer.alloc(strings.length * 4);
  let offset = 0;
  encoded.forEach((buffer, i) => {
    offsets.writeUInt32LE(offset, i * 4);
    offset += buffer.length;
  });
  const poolSize = poolHeaderSize + offsets.length + stringData.length + padding;
  const pool = Buffer.alloc(poolHeaderSize);
  pool.writeUInt16LE(0x0001, 0);
  pool.writeUInt16LE(poolHeaderSize, 2);
  pool.writeUInt32LE(poolSize, 4);
  pool.writeUInt32LE(strings.length, 8);
  pool.writeUInt32LE(0, 12);
  pool.writeUInt32LE(0, 16);
  pool.writeUInt32LE(poolHeaderSize + offsets.length, 20);
  pool.writeUInt32LE(0, 24);
  const poolChunk = Buffer.concat([pool, offsets, stringData, Buffer.alloc(padding)]);

  const names = Object.keys(attributes);
  const start = Buffer.alloc(16 + 20 + names.length * 20);
  start.writeUInt16LE(0x0102, 0);
  start.writeUInt16LE(16, 2);
  start.writeUInt32LE(start.length, 4);
  start.writeUInt32LE(1, 8);
  start.writeInt32LE(-1, 12);
  start.writeInt32LE(-1, 16);
  start.writeUInt32LE(index('manifest'), 20);
  start.writeUInt16LE(20, 24);
  start.writeUInt16LE(20, 26);
  start.writeUInt16LE(names.length, 28);
  names.forEach((name, i) => {
    const at = 36 + i * 20;
    start.writeInt32LE(-1, at);
    start.writeUInt32LE(index(name), at + 4);
    start.writeUInt32LE(index(attributes[name] ?? ''), at + 8);
    start.writeUInt16LE(8, at + 12);
    start.writeUInt8(0, at + 14);
    start.writeUInt8(0x03, at + 15);
    start.writeUInt32LE(index(attributes[name] ?? ''), at + 16);
  });

  const end = Buffer.alloc(24);
  end.writeUInt16LE(0x0103, 0);
  end.writeUInt16LE(16, 2);
  end.writeUInt32LE(24, 4);
  end.writeUInt32LE(1, 8);
  end.writeInt32LE(-1, 12);
  end.writeInt32LE(-1, 16);
  end.writeUInt32LE(index('manifest'), 20);

  const body = Buffer.concat([poolChunk, start, end]);
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0x0003, 0);
  header.writeUInt16LE(8, 2);
  header.writeUInt32LE(8 + body.length, 4);
  return Buffer.concat([header, body]);
}

export const apk = (identity: { package?: string; versionName?: string } = {}) =>
  zip({
    'AndroidManifest.xml': androidBinaryXml({ package: 'com.example.banking', versionName: '1.0', ...identity }),
    'classes.dex': Buffer.alloc(2048, 1),
  });

/** An .aab keeps its manifest as a protocol buffer; any bytes that are not binary XML stand in. */
export const aab = () => zip({ 'base/manifest/AndroidManifest.xml': Buffer.from([0x0a, 0x04, 0x74, 0x65, 0x73, 0x74]), 'base/dex/classes.dex': 'dex' });

export const appxManifestXml = (identity: { name?: string; version?: string } = {}) =>
  Buffer.from(`<?xml version="1.0" encoding="utf-8"?>
<Package xmlns="http://schemas.microsoft.com/appx/manifest/foundation/windows10">
  <Identity Name="${identity.name ?? 'Example.Banking'}" Publisher="CN=Example" Version="${identity.version ?? '1.0.0.0'}" />
</Package>`);

export const appx = (identity: { name?: string; version?: string } = {}) =>
  zip({ 'AppxManifest.xml': appxManifestXml(identity), 'Banking.exe': Buffer.alloc(512, 3) });

export const war = () => zip({ 'WEB-INF/web.xml': '<web-app/>', 'index.jsp': '<html></html>' });
export const webZip = () => zip({ 'index.html': '<!doctype html><title>Banking</title>', 'app.js': 'console.log(1)' });

/**
 * A ZIP64 archive of `count` empty stored entries, written by hand: yazl takes about a
 * millisecond an entry, far too slow for the 100,000 entries an abuse test wants.
 */
export function manyEntryZip(count: number, firstName = 'Payload/Big.app/Info.plist'): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < count; i += 1) {
    const name = Buffer.from(i === 0 ? firstName : `Payload/Big.app/f${i}`);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name);
    centrals.push(central, name);
    offset += local.length + name.length;
  }
  const directory = Buffer.concat(centrals);
  const zip64End = Buffer.alloc(56);
  zip64End.writeUInt32LE(0x06064b50, 0);
  zip64End.writeBigUInt64LE(44n, 4);
  zip64End.writeUInt16LE(45, 12);
  zip64End.writeUInt16LE(45, 14);
  zip64End.writeBigUInt64LE(BigInt(count), 24);
  zip64End.writeBigUInt64LE(BigInt(count), 32);
  zip64End.writeBigUInt64LE(BigInt(directory.length), 40);
  zip64End.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + directory.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...locals, directory, zip64End, locator, end]);
}

/**
 * Android binary XML whose second chunk declares a size of 0: the XML header, then a NULL chunk
 * that never moves the parser's cursor forward (issue 11: the parser looped forever).
 */
export function loopingAndroidManifest(): Buffer {
  const manifest = Buffer.alloc(16);
  manifest.writeUInt16LE(0x0003, 0);
  manifest.writeUInt16LE(8, 2);
  manifest.writeUInt32LE(16, 4);
  manifest.writeUInt16LE(0x0000, 8);
  manifest.writeUInt16LE(8, 10);
  manifest.writeUInt32LE(0, 12);
  return manifest;
}

/**
 * A binary plist of about 200 bytes: `depth` arrays, each holding the next one twice, so that a
 * parser that expands references builds 2^depth arrays (issue 11: heap exhaustion).
 */
export function expandingBinaryPlist(depth = 40): Buffer {
  const objects: Buffer[] = [];
  for (let i = 0; i < depth; i += 1) objects.push(Buffer.from([0xa2, i + 1, i + 1]));
  objects.push(Buffer.from([0xa0]));
  const header = Buffer.from('bplist00', 'latin1');
  const offsets: number[] = [];
  let at = header.length;
  for (const object of objects) {
    offsets.push(at);
    at += object.length;
  }
  if (at + offsets.length > 0xff) throw new Error('depth too large for one-byte offsets');
  const trailer = Buffer.alloc(32);
  trailer.writeUInt8(1, 6);
  trailer.writeUInt8(1, 7);
  trailer.writeBigUInt64BE(BigInt(objects.length), 8);
  trailer.writeBigUInt64BE(0n, 16);
  trailer.writeBigUInt64BE(BigInt(at), 24);
  return Buffer.concat([header, ...objects, Buffer.from(offsets), trailer]);
}

export const apkWithManifest = (manifest: Buffer) => zip({ 'AndroidManifest.xml': manifest, 'classes.dex': Buffer.alloc(64, 1) });
export const ipaWithPlist = (plist: Buffer | string) => zip({ 'Payload/Banking.app/Info.plist': plist, 'Payload/Banking.app/Banking': Buffer.alloc(64, 7) });
