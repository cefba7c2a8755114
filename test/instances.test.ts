import { afterAll, describe, expect, it } from 'vitest';
import { closeInstances, eventually, readyStatus, startInstances, type Instance } from './instances.js';

// The harness of the multi-instance suites (R60), here on two SQLite data directories: each
// instance is its own server, which is all a smoke test of the processes needs.
let instances: Instance[] = [];
afterAll(() => closeInstances(instances));

describe('multi-instance harness', () => {
  it('starts two instances that answer /ready; a SIGKILLed one is gone while the other answers', async () => {
    instances = await startInstances(2);
    const [a, b] = instances as [Instance, Instance];
    expect(a.url).not.toBe(b.url);
    expect(await readyStatus(a.url)).toBe(200);
    expect(await readyStatus(b.url)).toBe(200);

    await a.kill();
    expect(a.exited).toBe(true);
    expect(a.child.signalCode).toBe('SIGKILL');
    expect(await eventually(async () => (await readyStatus(a.url)) === null, { what: 'the killed instance to stop answering' })).toBe(true);
    expect(await readyStatus(b.url)).toBe(200);

    await b.stop();
    expect(b.child.exitCode).toBe(0);
  });
});
