/**
 * The whole bot (createFirebell) on DingTalk against the fake DingTalk APIs (test/fakes/dingtalk-api.ts)
 * and, in Stream mode, the fake Stream gateway (test/fakes/dingtalk-stream.ts), with a fresh
 * PostgreSQL database: robot messages and card callbacks arrive as real Stream frames (or signed
 * HTTP outgoing-robot callbacks), and every call the bot makes is answered by the fakes.
 */
import { createFirebell, type Firebell } from '../../src/app';
import { loadEnv } from '../../src/config/env';
import { createPostgresStore } from '../../src/db/index';
import type { IncidentStore } from '../../src/flows/ports';
import type { Policy } from '../../src/flows/policy/policy';
import { createLogger } from '../../src/logger';
import { createFakeDingTalk, type DingTalkCard, type FakeDingTalk } from '../fakes/dingtalk-api';
import { createFakeDingTalkStream, type FakeDingTalkStream } from '../fakes/dingtalk-stream';
import { cardCallback, DINGTALK_DEFAULTS, postDingTalk, robotMessage, type RobotMessageInput } from './dingtalk';
import { createTestDatabase, type TestDatabase } from './pg';

export const CARD_TEMPLATE = 'firebell-incident.schema';
export const SCENE_TEMPLATE = 'firebell-war-room-template';

export interface DingTalkBotOptions {
  transport: 'stream' | 'http';
  /** Configure the card template (default true in Stream mode). */
  template?: boolean;
  /** Configure the scene-group template (default true). */
  scene?: boolean;
  prepare?: (fake: FakeDingTalk) => void;
  /** The fake gateway re-pushes an un-acked callback after this long (default 1 s). */
  redeliverAfterMs?: number;
}

export interface DingTalkButton {
  text: string;
  style: string;
  action: string;
  value: string;
}

export interface DingTalkBotHarness {
  api: FakeDingTalk;
  gateway: FakeDingTalkStream | null;
  bot: Firebell;
  store: IncidentStore;
  db: TestDatabase;
  logs: string[];
  base: string;
  /** Someone writes to the robot (a DM, or an @mention in a group): a Stream frame or a signed HTTP callback. Resolves with the frame's messageId (Stream) once acked. */
  say(input: Omit<RobotMessageInput, 'sessionWebhook'> & { ack?: boolean }): Promise<string>;
  /** Clicks a button of a card instance: a card callback frame; resolves with the ack's response. */
  click(userId: string, card: DingTalkCard, action: string, text?: string): Promise<any>;
  /** The buttons of a card instance as it is now (the template's `buttons` JSON). */
  buttons(card: DingTalkCard | undefined): DingTalkButton[];
  /** Card instances delivered to a group or person, oldest first. */
  cardsIn(spaceId: string): DingTalkCard[];
  /** Texts (robot sends and session replies) to a conversation or person, as plain strings. */
  textsTo(conversationOrUser: string): string[];
  close(): Promise<void>;
}

export async function startDingTalkBot(policy: Policy, opts: DingTalkBotOptions): Promise<DingTalkBotHarness> {
  const api = await createFakeDingTalk({ appKey: DINGTALK_DEFAULTS.clientId, appSecret: DINGTALK_DEFAULTS.clientSecret });
  opts.prepare?.(api);
  const gateway = opts.transport === 'stream' ? await createFakeDingTalkStream({ redeliverUnackedAfterMs: opts.redeliverAfterMs ?? 1000 }) : null;
  const db = await createTestDatabase();
  const store = await createPostgresStore(db.url);
  const logs: string[] = [];
  const template = opts.template ?? opts.transport === 'stream';
  const env = loadEnv({
    PORT: '0',
    DATABASE_URL: db.url,
    DINGTALK_CLIENT_ID: DINGTALK_DEFAULTS.clientId,
    DINGTALK_CLIENT_SECRET: DINGTALK_DEFAULTS.clientSecret,
    DINGTALK_API_URL: api.url,
    DINGTALK_OAPI_URL: api.url,
    DINGTALK_CONNECTION: opts.transport,
    ...(gateway ? { DINGTALK_GATEWAY_URL: gateway.gatewayUrl } : {}),
    ...(template ? { DINGTALK_CARD_TEMPLATE_ID: CARD_TEMPLATE } : {}),
    ...(opts.scene === false ? {} : { DINGTALK_SCENE_TEMPLATE_ID: SCENE_TEMPLATE }),
  });
  const logger = createLogger({ level: 'debug', secrets: [DINGTALK_DEFAULTS.clientSecret], write: (l) => logs.push(l) });
  const bot = await createFirebell({ env, policy, logger, store, outboxIntervalMs: 50, dingtalkReconnectMs: 100 });
  const { port } = await bot.start();
  const base = `http://127.0.0.1:${port}`;
  if (gateway) await gateway.waitForConnection({ timeoutMs: 5000 });

  const buttons = (card: DingTalkCard | undefined): DingTalkButton[] => {
    try {
      return JSON.parse(card?.cardParamMap.buttons ?? '[]') as DingTalkButton[];
    } catch {
      return [];
    }
  };
  const textOf = (m: { text?: string; params?: any }): string => [m.params?.title, m.text].filter((x) => typeof x === 'string').join('\n');

  return {
    api,
    gateway,
    bot,
    store,
    db,
    logs,
    base,
    async say(input) {
      const msg = robotMessage({ ...input, sessionWebhook: api.sessionWebhook(input.conversationId, input.conversationType === '1' ? { userId: input.staffId } : {}) });
      if (gateway) {
        const id = gateway.push('/v1.0/im/bot/messages/get', msg);
        if (input.ack !== false) await gateway.waitForAck(id, 8000);
        return id;
      }
      const r = await postDingTalk(`${base}/dingtalk/events`, msg, { appSecret: DINGTALK_DEFAULTS.clientSecret });
      if (r.status !== 200) throw new Error(`dingtalk callback answered ${r.status}`);
      return msg.msgId;
    },
    async click(userId, card, action, text) {
      if (!gateway) throw new Error('card callbacks come over Stream mode');
      const b = buttons(card).find((x) => x.action === action && (text === undefined || x.text === text));
      if (!b) throw new Error(`no ${action} button on the card; it has ${buttons(card).map((x) => `${x.action} "${x.text}"`).join(', ')}`);
      const space = card.spaces[0]!;
      const id = gateway.push('/v1.0/card/instances/callback', cardCallback({ userId, outTrackId: card.outTrackId, params: { action: b.action, value: b.value }, spaceType: space.spaceType, spaceId: space.spaceId }));
      await gateway.waitForAck(id, 8000);
      return gateway.ackOf(id);
    },
    buttons,
    cardsIn: (spaceId) => [...api.cards.values()].filter((c) => c.spaces.some((s) => s.spaceId === spaceId)).sort((a, b) => a.createdAt - b.createdAt),
    textsTo: (who) => api.messagesTo(who).filter((m) => m.via !== 'card.instances.createAndDeliver').map(textOf),
    async close() {
      await bot.stop();
      await store.close();
      await gateway?.close();
      await api.close();
      await db.drop();
    },
  };
}
