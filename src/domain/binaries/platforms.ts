import type { ClientPlatform } from '../vocabulary.js';
import type { ArchiveKind } from './archive.js';

export type { ClientPlatform };

/** R14: what each platform accepts, by content and by file name. */
export const platformRules: Record<ClientPlatform, { kind: ArchiveKind; extensions: string[] }> = {
  IOS_PHONE: { kind: 'IOS', extensions: ['.ipa'] },
  IOS_TABLET: { kind: 'IOS', extensions: ['.ipa'] },
  ANDROID_PHONE: { kind: 'ANDROID', extensions: ['.apk', '.aab'] },
  ANDROID_TABLET: { kind: 'ANDROID', extensions: ['.apk', '.aab'] },
  WINDOWS: { kind: 'WINDOWS', extensions: ['.appx', '.msix', '.appxbundle', '.xap'] },
  WEB: { kind: 'WEB', extensions: ['.war', '.zip'] },
};

const kindNames: Record<ArchiveKind, string> = { IOS: 'an iOS app', ANDROID: 'an Android app', WINDOWS: 'a Windows app', WEB: 'a web app' };

export const describeKind = (kind: ArchiveKind): string => kindNames[kind];
