/** How long a runtime has to answer `GET <url>/health` (R9). */
export const PROBE_TIMEOUT_MS = 2000;

export type RuntimeProbe = (url: string) => Promise<boolean>;

/** Asks a runtime server whether it is up: any 2xx answer to `GET <url>/health` within 2 s. */
export const probeRuntimeHealth: RuntimeProbe = async (url) => {
  try {
    const response = await fetch(`${url}/health`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      redirect: 'manual',
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
};
