import { build as buildPlist } from 'plist';
import yazl from 'yazl';
import type { BinaryCatalogue } from './binaries/catalogue.js';
import type { Principal } from './principal.js';

/** A ZIP archive in memory; a name ending in / is a directory. */
export function zipArchive(entries: Record<string, string | Buffer>): Promise<Buffer> {
  const archive = new yazl.ZipFile();
  for (const [name, content] of Object.entries(entries)) {
    if (name.endsWith('/')) archive.addEmptyDirectory(name);
    else archive.addBuffer(typeof content === 'string' ? Buffer.from(content) : content, name);
  }
  archive.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    archive.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    archive.outputStream.once('end', () => resolve(Buffer.concat(chunks)));
    archive.outputStream.once('error', reject);
  });
}

/** Small but valid sample binaries for the demo app (R1), so publishing can be tried at once. */
export async function seedSampleBinaries(binaries: BinaryCatalogue, principal: Principal, appId: number): Promise<void> {
  const samples = [
    {
      platform: 'IOS_PHONE' as const,
      name: 'RetailBanking.ipa',
      content: await zipArchive({
        'Payload/RetailBanking.app/Info.plist': buildPlist({ CFBundleIdentifier: 'com.example.retailbanking', CFBundleShortVersionString: '1.0' }),
        'Payload/RetailBanking.app/RetailBanking': 'sample executable',
      }),
    },
    {
      platform: 'WINDOWS' as const,
      name: 'RetailBanking.appx',
      content: await zipArchive({
        'AppxManifest.xml':
          '<?xml version="1.0" encoding="utf-8"?><Package xmlns="http://schemas.microsoft.com/appx/manifest/foundation/windows10"><Identity Name="Example.RetailBanking" Publisher="CN=Example" Version="1.0.0.0" /></Package>',
      }),
    },
    {
      platform: 'WEB' as const,
      name: 'RetailBanking.war',
      version: '1.0',
      content: await zipArchive({
        'WEB-INF/web.xml': '<web-app/>',
        'index.html':
          '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
          '<title>Retail Banking</title><link rel="stylesheet" href="css/site.css"></head>' +
          '<body><h1>Retail Banking</h1><p>The demo web client, served by the runtime straight from its .war.</p></body></html>',
        'css/site.css': 'body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem; color: #1d2330 } h1 { color: #1b5fd1 }\n',
      }),
    },
  ];
  for (const sample of samples) {
    const result = await binaries.uploadFile(principal, {
      appId,
      platform: sample.platform,
      version: 'version' in sample ? sample.version : null,
      description: 'Sample binary from the demo data',
      file: { name: sample.name, stream: () => new Blob([new Uint8Array(sample.content)]).stream() },
    });
    if (!result.ok) throw new Error(`sample binary rejected: ${result.userErrors.map((error) => error.message).join('; ')}`);
  }
}
