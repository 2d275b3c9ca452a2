/**
 * Benchmark 1's baseline: a bare Bolt app that only acknowledges.
 *
 * The same `@slack/bolt` 5 `App` + `HTTPReceiver` as Firebell's Slack app
 * (`src/adapters/slack/inbound.ts`): the same signing secret and endpoint, the signature checked
 * by Bolt, `processBeforeResponse` left at its default (`false`, as Firebell leaves it, so `ack()`
 * answers the HTTP request at once), the same kind of error handler, Bolt's logs dropped, and the
 * bot identity given so Bolt never calls `auth.test`. Its listeners do nothing but `await ack()`:
 * no middleware, no de-duplication, no database, no `respond()`. It is served by a plain
 * `node:http` server (Node's defaults, as Firebell's `src/http/server.ts`) on an ephemeral port,
 * which also answers `GET /healthz` as Firebell's server does (the load client opens its
 * connections with it before a timed level).
 *
 * It imports nothing but Bolt, so that in its own process (bench/lib/sut-child.ts) its memory is
 * Bolt's: the token and signing secret are passed in rather than imported from the test harness.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';

export interface BareBolt {
  /** `http://127.0.0.1:PORT/slack/events`. */
  url: string;
  /** Acks given by the two listeners, and errors seen (a check that the load really reached them). */
  counts: { commands: number; actions: number; errors: number };
  close(): Promise<void>;
}

const quietLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

export async function startBareBolt(o: { botId: string; botUserId: string; signingSecret: string; botToken: string }): Promise<BareBolt> {
  const counts = { commands: 0, actions: 0, errors: 0 };
  const receiver = new HTTPReceiver({
    signingSecret: o.signingSecret,
    endpoints: '/slack/events',
    processBeforeResponse: false,
    logger: quietLogger,
    processEventErrorHandler: async () => {
      counts.errors++;
      return true;
    },
  });
  const app = new App({
    token: o.botToken,
    receiver,
    botId: o.botId,
    botUserId: o.botUserId,
    // Nothing here calls the Web API; if something did, it would fail on this closed port, not reach slack.com.
    clientOptions: { slackApiUrl: 'http://127.0.0.1:9/api/', retryConfig: { retries: 0 }, rejectRateLimitedCalls: true },
    logger: quietLogger,
  });
  app.command('/incident', async ({ ack }) => {
    await ack();
    counts.commands++;
  });
  app.action(/.*/, async ({ ack }) => {
    await ack();
    counts.actions++;
  });
  app.error(async () => {
    counts.errors++;
  });

  // As src/http/server.ts hands `/slack/events` to the receiver: a failure answers 500, never crashes.
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    const fail = () => {
      counts.errors++;
      if (!res.headersSent) res.writeHead(500).end();
      else res.end();
    };
    try {
      void Promise.resolve(receiver.requestListener(req, res) as unknown).catch(fail);
    } catch {
      fail();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/slack/events`,
    counts,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // the client's idle keep-alive sockets
      }),
  };
}
