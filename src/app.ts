import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Env } from './config/env';
import { createConsoleChat } from './adapters/console/chat';
import { createConsolePort } from './adapters/console/port';
import { createSlackApp, type SlackApp } from './adapters/slack/inbound';
import { createSlackPort, createSlackWebClient } from './adapters/slack/port';
import { createWorkGate } from './flows/work-gate';
import type * as Lark from '@larksuiteoapi/node-sdk';
import { createFeishuEvents } from './adapters/feishu/events';
import { createFeishuHttpHandler } from './adapters/feishu/http';
import type { FeishuPort } from './adapters/feishu/port';
import { decodeCallbackValue, readFormValues, renderCard as renderFeishuCard } from './adapters/feishu/render';
import { buildIncidentCard } from './flows/messages/cards';
import { createDingTalkClient } from './adapters/dingtalk/client';
import { createDingTalkEvents, type DingTalkEvents } from './adapters/dingtalk/events';
import { createDingTalkHttpHandler } from './adapters/dingtalk/http';
import { createDingTalkPort, resolveDingTalkPeople, type DingTalkPort } from './adapters/dingtalk/port';
import type { createDingTalkStream } from './adapters/dingtalk/stream';
import { createPgliteStore, createPostgresStore } from './db/index';
import { createDispatcher } from './flows/dispatch';
import type { Incident, Platform } from './flows/incident/model';
import { createInteractions } from './flows/interactions';
import { createRateLimiter } from './flows/rate-limit';
import { createOutboxWorker } from './flows/outbox';
import { systemClock, type ChatPort, type Clock, type IncidentStore, type Logger } from './flows/ports';
import type { Policy } from './flows/policy/policy';
import { countingStore, createMetrics } from './http/metrics';
import { createHttpServer } from './http/server';
import type { BullmqScheduler } from './scheduler/bullmq';
import { createInProcessScheduler } from './scheduler/in-process';
import type { Scheduler, SchedulerHooks } from './scheduler/types';

export interface FirebellOptions {
  env: Env;
  policy: Policy;
  logger: Logger;
  clock?: Clock;
  /** Use this store instead of building one from the environment (tests). */
  store?: IncidentStore;
  /** The terminal chat (`npm run demo`). */
  console?: {
    input: NodeJS.ReadableStream;
    output: { write(s: string): void };
    color?: boolean;
    /** The terminal, for line editing and history when stdin is a TTY. */
    terminal?: NodeJS.WritableStream;
    /** Echo piped input after the prompt (a readable transcript). */
    echo?: boolean;
  };
  /** Slack bot identity, which spares Bolt its auth.test at start-up. */
  slackIdentity?: { botId: string; botUserId: string };
  /** Outbox poll interval (the outbox is also kicked after every commit). */
  outboxIntervalMs?: number;
  /** How often the reconcile sweep re-creates lost timers (default 30 s). */
  reconcileEveryMs?: number;
  /** Prefix of the BullMQ keys in Redis (several deployments may share one Redis). */
  redisPrefix?: string;
  /**
   * The Feishu long connection (default: the SDK's WSClient). It is handed the dispatcher that
   * WSClient calls for every frame; tests hand frames to it the same way.
   */
  feishuLongConnection?: (dispatcher: FeishuFrameDispatcher) => FeishuLongConnection;
  /** Reconnect delay of the DingTalk Stream client (the SDK's is 1 s; tests shorten it). */
  dingtalkReconnectMs?: number;
}

/** What the SDK's WSClient calls for each event or card-callback frame: `invoke(parsed JSON)`. */
export interface FeishuFrameDispatcher {
  invoke(data: Record<string, unknown>): Promise<unknown>;
}

export interface FeishuLongConnection {
  start(): Promise<void>;
  close(): void;
}

/** Dedupe keys are kept this long: longer than any platform's redelivery window (Feishu ~7 h). */
const DEDUPE_TTL_MS = 24 * 3_600_000;

/**
 * The composition root (ARCHITECTURE.md): config → db → ports → flows → adapters → http and
 * scheduler. No module-level singletons: everything is built here and handed down.
 */
export async function createFirebell(opts: FirebellOptions) {
  const { env, policy, logger } = opts;
  const clock = opts.clock ?? systemClock();
  const metrics = createMetrics();
  const store = countingStore(
    opts.store ?? (env.DATABASE_URL ? await createPostgresStore(env.DATABASE_URL) : await createPgliteStore(join(env.FIREBELL_DATA_DIR, 'pglite'))),
    metrics,
  );

  const ports: Partial<Record<Platform, ChatPort>> = {};
  const consolePort = opts.console ? createConsolePort(opts.console.output, { color: opts.console.color ?? false, locale: policy.locale }) : null;
  if (consolePort) ports.console = consolePort;
  if (env.SLACK_BOT_TOKEN) ports.slack = createSlackPort(createSlackWebClient(env.SLACK_BOT_TOKEN, env.SLACK_API_URL, env.FIREBELL_API_TIMEOUT_MS), logger);
  let feishuPort: FeishuPort | null = null;
  if (env.FEISHU_APP_ID && env.FEISHU_APP_SECRET) {
    const { createFeishuClient, createFeishuPort, resolveFeishuPeople } = await import('./adapters/feishu/port');
    const client = createFeishuClient({ appId: env.FEISHU_APP_ID, appSecret: env.FEISHU_APP_SECRET, timeoutMs: env.FIREBELL_API_TIMEOUT_MS, ...(env.FEISHU_DOMAIN ? { domain: env.FEISHU_DOMAIN } : {}), logger });
    // People configured by e-mail or mobile get their open_id once, before anything is sent.
    await resolveFeishuPeople(client, policy, logger);
    feishuPort = createFeishuPort(client, logger, { locale: policy.locale, ...(env.FEISHU_DOMAIN?.includes('larksuite') ? { chatApplink: 'https://applink.larksuite.com/client/chat/open' } : {}) });
    ports.feishu = feishuPort;
  }
  let dingtalkPort: DingTalkPort | null = null;
  const dingtalkClient =
    env.DINGTALK_CLIENT_ID && env.DINGTALK_CLIENT_SECRET
      ? createDingTalkClient({ clientId: env.DINGTALK_CLIENT_ID, clientSecret: env.DINGTALK_CLIENT_SECRET, timeoutMs: env.FIREBELL_API_TIMEOUT_MS, ...(env.DINGTALK_API_URL ? { apiUrl: env.DINGTALK_API_URL } : {}), ...(env.DINGTALK_OAPI_URL ? { oapiUrl: env.DINGTALK_OAPI_URL } : {}), logger })
      : null;
  if (dingtalkClient && env.DINGTALK_CLIENT_ID) {
    // People configured by mobile get their staff id once, before anything is sent.
    await resolveDingTalkPeople(dingtalkClient, policy, logger);
    const owner = env.DINGTALK_ROOM_OWNER ?? policy.roles.incident_manager.map((k) => policy.people[k]?.accounts.dingtalk).find((a): a is string => !!a);
    // Card callbacks arrive on the stream connection; over HTTP only robot messages do, so cards
    // there are ActionCards whose buttons type the command.
    const templated = env.DINGTALK_CONNECTION === 'stream' ? env.DINGTALK_CARD_TEMPLATE_ID : undefined;
    if (env.DINGTALK_CARD_TEMPLATE_ID && !templated) logger.warn('DINGTALK_CARD_TEMPLATE_ID needs Stream mode for card callbacks; using ActionCards over HTTP');
    dingtalkPort = createDingTalkPort(dingtalkClient, logger, {
      robotCode: env.DINGTALK_ROBOT_CODE ?? env.DINGTALK_CLIENT_ID,
      locale: policy.locale,
      ...(templated ? { cardTemplateId: templated } : {}),
      ...(env.DINGTALK_SCENE_TEMPLATE_ID ? { sceneTemplateId: env.DINGTALK_SCENE_TEMPLATE_ID } : {}),
      ...(owner ? { roomOwner: owner } : {}),
    });
    ports.dingtalk = dingtalkPort;
  }
  const platforms = Object.keys(ports) as Platform[];

  // The dispatcher tells the scheduler of every commit; the scheduler calls back into the
  // dispatcher. The late binding breaks that cycle without a module-level singleton.
  let scheduler: Scheduler | null = null;
  const onCommitted = (incident: Incident) => {
    if (!scheduler) return;
    scheduler.kickOutbox();
    if (incident.nextTimerAt) void scheduler.schedule({ incidentId: incident.id, generation: incident.version, at: incident.nextTimerAt });
  };
  const dispatcher = createDispatcher({ store, clock, policy, platforms, newId: randomUUID, logger, onCommitted });
  const interactions = createInteractions(dispatcher, {
    ...(env.FIREBELL_RATE_LIMIT > 0 ? { limiter: createRateLimiter({ perMinute: env.FIREBELL_RATE_LIMIT, now: () => clock.now().getTime() }) } : {}),
    onLimited: (person, retryAfterMs) => {
      metrics.onRateLimited();
      logger.warn('rate limited', { person: person.id, platform: person.platform, retryAfterMs });
    },
  });
  const worker = createOutboxWorker({ store, ports, policy, clock, logger, record: (id, command) => dispatcher.record(id, command) });
  const hooks: SchedulerHooks = {
    async fire(job) {
      await dispatcher.fire(job);
    },
    owed: (before, limit, after) => store.owedTimers(before, limit, after),
    async deliverOutbox() {
      const r = await worker.runOnce();
      metrics.onOutboxPass(r);
      return { nextRetryAt: r.nextRetryAt };
    },
    async housekeeping() {
      await store.pruneInbound(new Date(clock.now().getTime() - DEDUPE_TTL_MS).toISOString());
    },
  };
  const timing = { ...(opts.reconcileEveryMs ? { reconcileEveryMs: opts.reconcileEveryMs } : {}) };
  const sched: Scheduler = env.REDIS_URL
    ? await (await import('./scheduler/bullmq')).createBullmqScheduler({ redisUrl: env.REDIS_URL, prefix: opts.redisPrefix ?? 'firebell', hooks, clock, logger, ...timing })
    : createInProcessScheduler({ hooks, clock, logger, ...(opts.outboxIntervalMs ? { outboxIntervalMs: opts.outboxIntervalMs } : {}), ...timing });
  scheduler = sched;

  // One bound for the work behind every acknowledged request, whatever the platform.
  const gate = createWorkGate(env.FIREBELL_WORK_CONCURRENCY);
  let slack: SlackApp | null = null;
  if (env.SLACK_BOT_TOKEN) {
    slack = createSlackApp({
      botToken: env.SLACK_BOT_TOKEN,
      signingSecret: env.SLACK_SIGNING_SECRET,
      appToken: env.SLACK_APP_TOKEN,
      apiUrl: env.SLACK_API_URL,
      interactions,
      store,
      policy,
      logger,
      gate,
      ...(opts.slackIdentity ?? {}),
    });
  }

  // Feishu: one handler for both transports. Over HTTP, http.ts verifies and decrypts first; the
  // long connection's frames are authenticated by the SDK and handed over as they come.
  let feishuHttp: ReturnType<typeof createFeishuHttpHandler> | null = null;
  let feishuWs: FeishuLongConnection | null = null;
  if (feishuPort && env.FEISHU_APP_ID && env.FEISHU_APP_SECRET) {
    const events = createFeishuEvents({
      gate,
      interactions,
      store,
      policy,
      logger,
      replies: feishuPort.replies,
      codec: { decode: decodeCallbackValue, readForm: readFormValues },
      currentCard: async (messageId) => {
        const binding = await store.bindingByMessage('feishu', messageId);
        const incident = binding ? await dispatcher.load({ id: binding.incidentId }) : null;
        if (!binding || !incident) return null;
        const card = buildIncidentCard(incident, binding.purpose, await store.lastEntry(incident.id), { policy, locale: policy.locale, now: clock.now().getTime() });
        return renderFeishuCard(card, { locale: policy.locale }).card;
      },
      ...(env.FEISHU_BOT_OPEN_ID ? { botOpenId: env.FEISHU_BOT_OPEN_ID } : {}),
    });
    if (env.FEISHU_CONNECTION === 'http') {
      feishuHttp = createFeishuHttpHandler({
        ...(env.FEISHU_ENCRYPT_KEY ? { encryptKey: env.FEISHU_ENCRYPT_KEY } : {}),
        ...(env.FEISHU_VERIFICATION_TOKEN ? { verificationToken: env.FEISHU_VERIFICATION_TOKEN } : {}),
        logger,
        handle: events.handle,
      });
    } else {
      // WSClient hands each frame to `eventDispatcher.invoke` and sends back what it returns (the
      // card callback's toast). `handle` never throws, so no frame can take the process down.
      const frames: FeishuFrameDispatcher = { invoke: (data) => events.handle(data) };
      // The SDK (about 85 MB resident) is loaded only for a deployment that talks to Feishu.
      const lark = opts.feishuLongConnection ? null : await import('@larksuiteoapi/node-sdk');
      const appId = env.FEISHU_APP_ID;
      const appSecret = env.FEISHU_APP_SECRET;
      const connect =
        opts.feishuLongConnection ??
        ((d: FeishuFrameDispatcher): FeishuLongConnection => {
          const sdk = lark as typeof Lark; // loaded above whenever this default is the one used
          const ws = new sdk.WSClient({ appId, appSecret, ...(env.FEISHU_DOMAIN ? { domain: env.FEISHU_DOMAIN } : {}), loggerLevel: sdk.LoggerLevel.warn });
          return { start: () => ws.start({ eventDispatcher: d as unknown as Lark.EventDispatcher }), close: () => ws.close() };
        });
      feishuWs = connect(frames);
    }
  }

  // DingTalk: the same events handler for Stream frames and HTTP outgoing-robot callbacks.
  let dingtalkHttp: ReturnType<typeof createDingTalkHttpHandler> | null = null;
  let dingtalkStream: ReturnType<typeof createDingTalkStream> | null = null;
  let dingtalkEvents: DingTalkEvents | null = null;
  if (dingtalkPort && dingtalkClient && env.DINGTALK_CLIENT_ID && env.DINGTALK_CLIENT_SECRET) {
    const port = dingtalkPort;
    dingtalkEvents = createDingTalkEvents({
      interactions,
      store,
      policy,
      logger,
      port,
      client: dingtalkClient,
      currentCard: async (outTrackId) => {
        const binding = await store.bindingByMessage('dingtalk', outTrackId);
        const incident = binding ? await dispatcher.load({ id: binding.incidentId }) : null;
        if (!binding || !incident) return null;
        return port.cardParams(buildIncidentCard(incident, binding.purpose, await store.lastEntry(incident.id), { policy, locale: policy.locale, now: clock.now().getTime() }));
      },
    });
    const events = dingtalkEvents;
    if (env.DINGTALK_CONNECTION === 'http') {
      dingtalkHttp = createDingTalkHttpHandler({
        appSecret: env.DINGTALK_CLIENT_SECRET,
        logger,
        handle: async (payload) => {
          await events.onRobotMessage(payload);
          return {};
        },
      });
    } else {
      const apiBase = (env.DINGTALK_API_URL ?? 'https://api.dingtalk.com').replace(/\/+$/, '');
      const { createDingTalkStream } = await import('./adapters/dingtalk/stream');
      dingtalkStream = createDingTalkStream({
        clientId: env.DINGTALK_CLIENT_ID,
        clientSecret: env.DINGTALK_CLIENT_SECRET,
        gatewayUrl: env.DINGTALK_GATEWAY_URL ?? `${apiBase}/v1.0/gateway/connections/open`,
        events,
        logger,
        ...(opts.dingtalkReconnectMs ? { reconnectIntervalMs: opts.dingtalkReconnectMs } : {}),
      });
    }
  }

  let server: Server | null = null;
  let chatDone: Promise<void> | null = null;

  return {
    store,
    dispatcher,
    interactions,
    scheduler: sched,
    worker,
    platforms,
    slack,
    /** DingTalk's events handler (null without DingTalk), for tests and tools. */
    dingtalk: dingtalkEvents as DingTalkEvents | null,
    metrics,
    /** Starts the scheduler, the HTTP server (when a platform needs it) and the console chat. */
    async start(): Promise<{ port: number | null }> {
      await sched.start();
      let port: number | null = null;
      if (!opts.console || slack || feishuHttp || dingtalkHttp) {
        server = createHttpServer({
          slack: slack?.requestListener ?? null,
          feishu: feishuHttp,
          dingtalk: dingtalkHttp,
          metrics: { metrics, render: () => metrics.render(store, clock.now().getTime()) },
          ready: async () => {
            await store.list({ limit: 1 });
            // With REDIS_URL the timers live there too: not ready without it.
            if (sched.kind === 'bullmq') await (sched as BullmqScheduler).counts();
          },
          logger,
        });
        await new Promise<void>((resolve, reject) => {
          server!.once('error', reject);
          server!.listen(env.PORT, () => resolve());
        });
        const addr = server.address();
        port = typeof addr === 'object' && addr ? addr.port : null;
        logger.info('http server listening', { port });
      }
      if (slack) await slack.start();
      dingtalkStream?.start().catch((err: unknown) => logger.error('dingtalk stream failed', { error: err instanceof Error ? err.message : String(err) }));
      feishuWs?.start().catch((err: unknown) => logger.error('feishu long connection failed', { error: err instanceof Error ? err.message : String(err) }));
      if (opts.console && consolePort) {
        const chat = createConsoleChat({
          interactions,
          policy,
          port: consolePort,
          input: opts.console.input,
          output: opts.console.output,
          commandName: '/incident',
          flush: () => sched.flush(),
          color: opts.console.color ?? false,
          ...(opts.console.terminal ? { terminal: opts.console.terminal } : {}),
          ...(opts.console.echo ? { echo: true } : {}),
        });
        chatDone = chat.start();
      }
      return { port };
    },
    /** Resolves when the console chat ends (quit or end of input). */
    chatFinished(): Promise<void> {
      return chatDone ?? Promise.resolve();
    },
    /** Graceful stop: no new requests, deliver what is owed, then close the database. */
    async stop() {
      if (server) {
        // Keep-alive connections would hold close() open: drop the idle ones now, and any
        // request still running after 5 s.
        const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server?.closeAllConnections(), 5000);
        await closed;
        clearTimeout(force);
      }
      if (slack) await slack.stop().catch(() => {});
      feishuWs?.close();
      dingtalkStream?.close();
      // What was acknowledged is finished before the outbox's last pass and the database close:
      // the platform will not send it again.
      if (!(await gate.idle(SHUTDOWN_WORK_MS))) logger.warn('shutdown: acknowledged work still running', gate.stats());
      await sched.stop();
      if (!opts.store) await store.close();
    },
  };
}

/** How long shutdown waits for acknowledged work (a platform's own retry window is longer). */
const SHUTDOWN_WORK_MS = 10_000;

export type Firebell = Awaited<ReturnType<typeof createFirebell>>;
