import { stringifyMessage, MessageType } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { noUserErrors, startServer, type TestServer } from './kit.js';
import { PUBLISH_NATIVE, publishWorld, type PublishWorld } from './publish-kit.js';

const JOBS_UPDATED = `subscription ($env: ID) { publishJobsUpdated(environmentId: $env) { id state revision stages { key state message } } }`;

/** A subscriber speaking graphql-transport-ws by hand, so that the raw text of each frame is kept. */
async function rawSubscriber(url: string, token: string, id: string, query: string, variables: Record<string, unknown>) {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  const frames: string[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (data, isBinary) => {
      const text = String(data);
      const message = JSON.parse(text) as { type: string };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
        resolve();
      } else frames.push(isBinary ? `binary:${text}` : text);
    });
  });
  return { socket, frames };
}

const poll = async (done: () => boolean) => {
  for (let i = 0; i < 500 && !done(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('fanout of a shared execution', () => {
  let t: TestServer;
  let w: PublishWorld;
  beforeAll(async () => {
    t = await startServer({ publishStageDelayMs: 2 });
    w = await publishWorld(t.admin);
  });
  afterAll(() => t.stop());

  it('turns each event into JSON once for all its subscribers, and every subscriber gets the bytes graphql-ws would have sent', async () => {
    const subscribers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => rawSubscriber(t.url, t.admin.token ?? '', `sub-${i}`, JOBS_UPDATED, { env: w.environmentId })),
    );
    await poll(() => t.server.realtime.openStreams === 1);
    expect(t.server.realtime.openStreams).toBe(1);
    const before = t.server.realtime.sharedSerialisations;

    const job = noUserErrors(
      (await t.admin.request(PUBLISH_NATIVE, {
        input: { appId: w.appId, environmentId: w.environmentId, option: 'APP_STORE', workflowState: 'DRAFT', removePlatforms: ['WINDOWS'], sync: true },
      })).publishNativeClient,
    ).job;
    expect(job.state).toBe('SUCCEEDED');
    const finished = (frames: string[]) => frames.some((frame) => frame.includes('"state":"SUCCEEDED","revision"'));
    await poll(() => subscribers.every(({ frames }) => finished(frames)));

    const events = subscribers[0]?.frames.length ?? 0;
    expect(events).toBeGreaterThan(10);
    // One serialisation per event, not one per event and subscriber.
    expect(t.server.realtime.sharedSerialisations - before).toBe(events);

    const payloadOf = (frame: string) => frame.slice(frame.indexOf('"payload":'));
    for (const [i, { frames }] of subscribers.entries()) {
      expect(frames).toHaveLength(events);
      for (const [n, frame] of frames.entries()) {
        // Text frames, exactly as graphql-ws's own stringify writes this message.
        const message = JSON.parse(frame) as { id: string; type: string; payload: Record<string, unknown> };
        expect(message.id).toBe(`sub-${i}`);
        expect(frame).toBe(stringifyMessage({ id: message.id, type: MessageType.Next, payload: message.payload }));
        expect(payloadOf(frame)).toBe(payloadOf(subscribers[0]?.frames[n] ?? ''));
      }
    }
    for (const { socket } of subscribers) socket.close();
    await poll(() => t.server.realtime.openStreams === 0);
    expect(t.server.realtime.openStreams).toBe(0);
  });
});
