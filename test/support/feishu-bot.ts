/**
 * The whole bot (createFirebell) on Feishu against the fake open-apis and a fresh PostgreSQL
 * database, over either transport:
 * - `http`: encrypted, signed envelopes POSTed to /feishu/events and /feishu/card, as Feishu's
 *   servers send them;
 * - `ws`: the same envelopes handed to the dispatcher the long connection is given, exactly as the
 *   SDK's WSClient calls it (`invoke(parsed frame)`), its answer being what goes back on the socket.
 * Optionally with Slack too (one deployment serving both).
 */
import { createFirebell, type Firebell, type FeishuFrameDispatcher } from '../../src/app';
import { loadEnv } from '../../src/config/env';
import { createPostgresStore } from '../../src/db/index';
import type { IncidentStore } from '../../src/flows/ports';
import type { Policy } from '../../src/flows/policy/policy';
import { createLogger } from '../../src/logger';
import { createFakeFeishu, p2pChatId, type FakeFeishu, type FeishuMessage } from '../fakes/feishu-api';
import { createFakeSlack, type FakeSlack } from '../fakes/slack-api';
import { cardAction, messageEvent, postFeishu, type FeishuEnvelope } from './feishu';
import { createTestDatabase, type TestDatabase } from './pg';
import { BOT_TOKEN, SIGNING_SECRET } from './slack-bot';

export const FEISHU_ENCRYPT_KEY = 'e2e-encrypt-key-feishu';
export const FEISHU_VERIFICATION_TOKEN = 'vtoken-firebell';

/** A button on a Feishu card: the callback value it carries and its label. */
export interface FeishuButton {
  action: string;
  value: unknown;
  text: string;
}

/** Every callback button on a card message (in order), form buttons included. */
export function feishuButtons(m: { parsed?: unknown } | undefined): FeishuButton[] {
  const out: FeishuButton[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, any>;
    if (n.tag === 'button' && Array.isArray(n.behaviors)) {
      const v = n.behaviors.find((b: any) => b.type === 'callback')?.value;
      if (v && typeof v.action === 'string') out.push({ action: v.action, value: v, text: String(n.text?.content ?? '') });
    }
    Object.values(n).forEach(walk);
  };
  walk(m?.parsed);
  return out;
}

/** All text of a message (for assertions). */
export const feishuText = (m: { parsed?: unknown } | undefined): string => JSON.stringify(m?.parsed ?? '');

export interface FeishuBotOptions {
  transport: 'http' | 'ws';
  /** Serve Slack too, against its own fake. */
  slack?: boolean;
  /** Set up the fake's directory before the bot starts (contact lookups happen at start). */
  prepare?: (fake: FakeFeishu) => void;
}

export interface FeishuBotHarness {
  fake: FakeFeishu;
  slackFake: FakeSlack | null;
  bot: Firebell;
  store: IncidentStore;
  db: TestDatabase;
  logs: string[];
  /** HTTP base of the bot (health, Slack endpoint). */
  base: string;
  /** Delivers an envelope as Feishu would on this transport; the answer Feishu gets back. */
  deliver(envelope: FeishuEnvelope, kind?: 'event' | 'card'): Promise<{ status: number; json: any }>;
  /**
   * Someone writes to the bot: the message is put in the fake (so the bot can quote it, as on
   * Feishu) and its receive event delivered. In a group, the bot is @mentioned.
   */
  say(openId: string, chat: string, text: string): Promise<{ status: number; json: any }>;
  /** Clicks the button `action` (first match, or the one whose label is `text`) on a card message. */
  click(openId: string, message: FeishuMessage, action: string, text?: string): Promise<{ status: number; json: any }>;
  /** The newest form card sent to `openId` (in their chat with the bot) whose title contains `title`. */
  formFor(openId: string, title: string): Promise<FeishuMessage>;
  /** Submits a form card with these values, as the Feishu client does. */
  submit(openId: string, form: FeishuMessage, values: Record<string, string>): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export async function startFeishuBot(policy: Policy, opts: FeishuBotOptions): Promise<FeishuBotHarness> {
  const fake = await createFakeFeishu();
  opts.prepare?.(fake);
  const slackFake = opts.slack ? await createFakeSlack() : null;
  const db = await createTestDatabase();
  const store = await createPostgresStore(db.url);
  const logs: string[] = [];
  const env = loadEnv({
    PORT: '0',
    DATABASE_URL: db.url,
    FEISHU_APP_ID: fake.appId,
    FEISHU_APP_SECRET: fake.appSecret,
    FEISHU_ENCRYPT_KEY,
    FEISHU_VERIFICATION_TOKEN,
    FEISHU_DOMAIN: fake.url,
    FEISHU_CONNECTION: opts.transport === 'http' ? 'http' : 'websocket',
    ...(slackFake ? { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slackFake.url } : {}),
  });
  const logger = createLogger({ level: 'debug', secrets: [fake.appSecret, FEISHU_ENCRYPT_KEY, FEISHU_VERIFICATION_TOKEN, BOT_TOKEN, SIGNING_SECRET], write: (l) => logs.push(l) });
  let frames: FeishuFrameDispatcher | null = null;
  let connected = false;
  const bot = await createFirebell({
    env,
    policy,
    logger,
    store,
    outboxIntervalMs: 50,
    ...(slackFake ? { slackIdentity: { botId: slackFake.botId, botUserId: slackFake.botUserId } } : {}),
    feishuLongConnection: (d) => {
      frames = d;
      return {
        async start() {
          connected = true;
        },
        close() {
          connected = false;
        },
      };
    },
  });
  const { port } = await bot.start();
  const base = `http://127.0.0.1:${port}`;

  async function deliver(envelope: FeishuEnvelope, kind: 'event' | 'card' = envelope.header.event_type === 'card.action.trigger' ? 'card' : 'event') {
    if (opts.transport === 'http') {
      const r = await postFeishu(`${base}${kind === 'card' ? '/feishu/card' : '/feishu/events'}`, envelope, { encryptKey: FEISHU_ENCRYPT_KEY, sign: true });
      return { status: r.status, json: r.json };
    }
    if (!frames || !connected) throw new Error('the long connection was not started');
    // WSClient parses the frame's JSON and hands the object over; it base64s the answer back.
    const json = await frames.invoke(JSON.parse(JSON.stringify(envelope)) as Record<string, unknown>);
    return { status: 200, json: json ?? {} };
  }

  const harness: FeishuBotHarness = {
    fake,
    slackFake,
    bot,
    store,
    db,
    logs,
    base,
    deliver,
    say(openId, chat, text) {
      const p2p = chat.startsWith('ou_');
      const chatId = p2p ? p2pChatId(chat) : chat;
      const seeded = fake.addMessage({ chatId, senderOpenId: openId, text });
      return deliver(messageEvent({ openId, chatId, chatType: p2p ? 'p2p' : 'group', text, messageId: seeded.message_id }));
    },
    click(openId, message, action, text) {
      const buttons = feishuButtons(message);
      const b = buttons.find((x) => x.action === action && (text === undefined || x.text === text));
      if (!b) throw new Error(`no ${action} button on the card; it has: ${buttons.map((x) => `${x.action} "${x.text}"`).join(', ')}`);
      return deliver(cardAction({ openId, value: b.value, messageId: message.message_id, chatId: message.chat_id }));
    },
    async formFor(openId, title) {
      const find = () =>
        fake
          .messagesTo(openId)
          .filter((m) => m.msg_type === 'interactive' && feishuButtons(m).some((b) => b.action === 'form.submit') && String(m.parsed?.header?.title?.content ?? '').includes(title))
          .at(-1);
      await fake.waitFor(() => find() !== undefined, 8000);
      return find()!;
    },
    submit(openId, form, values) {
      const b = feishuButtons(form).find((x) => x.action === 'form.submit');
      if (!b) throw new Error('not a form card');
      return deliver(cardAction({ openId, value: b.value, messageId: form.message_id, chatId: form.chat_id, formValue: values, name: 'firebell_submit' }));
    },
    async close() {
      await bot.stop();
      await store.close();
      await fake.close();
      await slackFake?.close();
      await db.drop();
    },
  };
  return harness;
}
