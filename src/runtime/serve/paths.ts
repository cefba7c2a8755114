/** Where a runtime serves an app and a store link, under the runtime's base URL (R53-R55). */
export const webClientPath = (appName: string) => `/apps/${encodeURIComponent(appName)}/`;
export const appConfigPath = (appName: string) => `/apps/${encodeURIComponent(appName)}/appconfig`;
export const storePath = (token: string) => `/store/${token}`;
