/**
 * In-process fake of Feishu's (Lark's) open-apis (https://open.feishu.cn/open-apis/...) over `node:http`.
 *
 * Point the real `@larksuiteoapi/node-sdk` client at it with
 * `new lark.Client({ appId, appSecret, domain: fake.url, cache: new lark.DefaultCache() })`: `formatDomain` passes any
 * non-enum string through, so every call (the tenant token included) lands here (/work/shared/PLATFORMS.md §5, §8).
 * The SDK caches the tenant token in a module-global cache namespaced by appId unless given its own `cache`: give each
 * test a fresh `lark.DefaultCache()` (or a distinct appId).
 *
 * Wire format (open.feishu.cn server docs, checked per endpoint below):
 * - JSON in and out. Success is HTTP 200 `{ code: 0, msg: 'success', data }` (the token endpoint answers
 *   `{ code: 0, msg: 'ok', tenant_access_token, expire }` without `data`).
 * - Business errors are HTTP 400 `{ code, msg, error: { log_id } }`; the SDK (axios) throws an `AxiosError` whose
 *   `response.data` is that body. An injected `{ code, status: 200 }` answers HTTP 200 with `code != 0`, which the SDK
 *   does NOT throw for (the caller must check `res.code`).
 * - Every endpoint but the token one needs `Authorization: Bearer <tenant_access_token>`: none → 99991661, unknown or
 *   expired → 99991663 (both HTTP 400, as PLATFORMS.md "More facts" records).
 * - Rate limiting (docs "频控策略"): HTTP 429 (older APIs: HTTP 400) `{ code: 99991400, msg: 'request trigger frequency
 *   limit' }` with headers `x-ogw-ratelimit-limit` and `x-ogw-ratelimit-reset` (seconds to wait). Only injected here.
 *
 * Directory semantics: when `opts.users` is given it is authoritative (unknown users are refused like Feishu refuses
 * users outside the app's availability); otherwise any well-formed `ou_…` open_id is accepted. Group chats the fake
 * has never seen are registered on first use as existing groups the bot is in, unless `strictChats` is set.
 *
 * Knobs for tests: `latencyMs` holds every answer back (the call still runs on arrival); `failNext` injects rate
 * limits, outages, business errors, and failures after the work was done (`applied: true`); `invalidUsers` marks users
 * that exist but cannot be reached or added (resigned / outside the app's availability).
 */
import http from 'node:http';
import { pollUntil } from './wait';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** One recorded HTTP call, in arrival order. */
export interface FeishuCall {
  /** HTTP method, e.g. `POST`. */
  method: string;
  /** URL path without the query string, e.g. `/open-apis/im/v1/messages/om_…/reply`. */
  path: string;
  /** Endpoint name after the SDK's method names, e.g. `im.message.reply`; `unknown` for unrouted paths. */
  name: string;
  /** Decoded query string (`receive_id_type`, `uuid`, …). */
  query: Record<string, string>;
  /** Parsed JSON body (`{}` when empty; `{ _raw }` when it was not JSON). */
  body: any;
  /** Token from `Authorization: Bearer`, else null. */
  token: string | null;
  /** `Date.now()` when the request arrived. */
  at: number;
  /** HTTP status the fake answered with. */
  status: number;
  /** The JSON (or text, for unrouted paths) the fake answered with. */
  response: any;
  /** For an injected failure with `applied: true`: the answer the endpoint really produced (the caller never saw it). */
  appliedResponse?: any;
}

/**
 * A failure to inject with {@link FakeFeishu.failNext}.
 * - `{ rateLimited: true }`: HTTP 400 (or `status: 429`) `{ code: 99991400 }` with `x-ogw-ratelimit-limit` /
 *   `x-ogw-ratelimit-reset` (default 1 s) headers; nothing happens.
 * - `{ status: 500 }`: outage before Feishu did anything (`{ code: 1500, msg: 'internal error' }`).
 * - `{ code, msg?, status? }`: a business error (HTTP 400 unless `status` says otherwise; `status: 200` gives the
 *   HTTP-200-with-`code != 0` answer the SDK does not throw for).
 * - `applied: true` on the last two: Feishu did the work (the message is sent, the chat created) but the caller gets
 *   the error instead, as when the process or network fails after Feishu acted.
 */
export type FeishuFailure =
  /** No answer ever comes (the caller's deadline ends it); with `applied`, Feishu did the work first. */
  | { hang: true; applied?: boolean }
  | { rateLimited: true; status?: 400 | 429; resetSeconds?: number; limit?: number }
  | { status: 500; applied?: boolean }
  | { code: number; msg?: string; status?: number; applied?: boolean };

/** A user in the fake tenant directory. */
export interface FeishuUser {
  /** `ou_…`: the id every API here uses by default. */
  openId: string;
  name: string;
  /** Tenant-wide user id (`user_id_type=user_id`). */
  userId?: string;
  /** `on_…` (`user_id_type=union_id`). */
  unionId?: string;
  email?: string;
  /** As the directory holds it; mainland numbers may omit `+86`. */
  mobile?: string;
  /** Resigned users: messages refused (230013), `batch_get_id` hides them unless `include_resigned`. */
  resigned?: boolean;
}

/** Who sent a message, as Feishu reports it. */
export interface FeishuSender {
  id: string;
  id_type: 'app_id' | 'open_id';
  sender_type: 'app' | 'user';
}

/** How a message version came to be. */
export type FeishuMessageVia = 'im.message.create' | 'im.message.reply' | 'im.message.patch' | 'interactive.card.update' | 'seed';

/** One version of a message (the send, then one per patch / delayed card update). */
export interface FeishuMessageVersion {
  /** The `content` JSON string as sent (for `interactive.card.update`, the card serialised without `open_ids`). */
  content: string;
  /** `content` parsed. */
  parsed: any;
  via: FeishuMessageVia;
  /** `Date.now()` when this version was written. */
  at: number;
  /** Delayed update of an exclusive card: the users it was applied for. */
  openIds?: string[];
}

/** Current state of a message the bot sent (or a test seeded). */
export interface FeishuMessage {
  message_id: string;
  /** The chat it lives in: a group `oc_…`, or the bot's p2p chat with the user ({@link p2pChatId}). */
  chat_id: string;
  msg_type: string;
  /** Current `content` JSON string. */
  content: string;
  /** Current content parsed. */
  parsed: any;
  sender: FeishuSender;
  /** `receive_id_type` / `receive_id` of the send (absent for replies and seeded messages). */
  receive_id_type?: string;
  receive_id?: string;
  /** For messages in a p2p chat: the user's open_id. */
  userOpenId?: string;
  root_id?: string;
  parent_id?: string;
  thread_id?: string;
  /** The `uuid` the send carried, if any. */
  uuid?: string;
  /** `<at user_id=…>` mentions of a text message, as the API reports them. */
  mentions?: { key: string; id: string; id_type: 'open_id'; name: string; tenant_key: string }[];
  /** Milliseconds. */
  create_time: number;
  update_time: number;
  deleted: boolean;
  pinned: boolean;
  /** The pin, once pinned (`im.pin.create`). */
  pin?: { message_id: string; chat_id: string; operator_id: string; operator_id_type: 'app_id'; create_time: string };
  /** Every version in order: `history[0]` is the send, later entries are updates. */
  history: FeishuMessageVersion[];
}

/** A chat's group announcement. New chats get the docx type (docs "升级版群公告"); `legacyAnnouncements` gives doc. */
export interface FeishuAnnouncement {
  type: 'docx' | 'doc';
  /** Starts at 1; +1 per edit. */
  revision: number;
  /** docx: the blocks created under the root, with `block_id` and `parent_id`. */
  blocks: any[];
  /** Plain text of the announcement (text runs of the blocks / legacy requests, one line per block). */
  text: string;
  /** Legacy (doc) announcements: every `requests` entry received, parsed. */
  requests: any[];
  /** Milliseconds of the last edit (0 = never edited). */
  updatedAt: number;
}

/** A chat as the fake knows it. */
export interface FeishuChat {
  chat_id: string;
  name: string;
  description: string;
  /** `p2p` for the bot's 1:1 chats. */
  chat_mode: 'group' | 'p2p';
  chat_type: 'private' | 'public' | 'p2p';
  group_message_type: 'chat' | 'thread';
  owner_id: string;
  owner_id_type: 'open_id' | 'app_id';
  /** Human members (open_ids). */
  members: Set<string>;
  /** Bot members (app_ids); the calling app is one when the bot is in the chat. */
  bots: Set<string>;
  /** Managers (open_ids or app_ids). */
  managers: Set<string>;
  /** For p2p chats: the user. */
  p2pUser?: string;
  announcement: FeishuAnnouncement;
  dissolved: boolean;
  /** The `uuid` it was created with. */
  uuid?: string;
  /** Registered on first use of an unseen id (a pre-existing group): member checks are skipped. */
  autoRegistered?: boolean;
  /** Milliseconds. */
  created_at: number;
}

/** An issued tenant_access_token. */
export interface FeishuToken {
  token: string;
  appId: string;
  /** Milliseconds. */
  issuedAt: number;
  /** Milliseconds; the token is refused (99991663) after this. */
  expiresAt: number;
}

/** Handle on a running fake Feishu. */
export interface FakeFeishu {
  /** `http://127.0.0.1:PORT`: pass as the SDK's `domain`. */
  url: string;
  /** Default app (`cli_…`). */
  appId: string;
  /** Default app's secret. */
  appSecret: string;
  /** Tenant key reported in senders, mentions and pins. */
  tenantKey: string;
  /**
   * app_id → app_secret accepted by the token endpoint (the default app plus `opts.apps`). Mutable. Tokens of every app
   * act as the same bot (`appId`); extra apps exist to isolate the SDK's per-appId token cache.
   */
  apps: Map<string, string>;
  /**
   * Lifetime of newly issued tenant tokens in seconds (Feishu: 7200). Feishu answers a token request with the current
   * token while it has ≥ 30 min left, else with a new one (the old stays valid until it expires). The SDK caches a token
   * until 3 min before `expire`, so a value ≤ 180 makes it fetch a new token for every call. Mutable.
   */
  tokenTtlSeconds: number;
  /** Issued tenant tokens by token. */
  tokens: Map<string, FeishuToken>;
  /** Every call in order (including failed and injected-failure calls). */
  calls: FeishuCall[];
  /** Calls to one endpoint: by name (`im.message.create`), exact path, or path template (`/open-apis/im/v1/messages/:message_id`). */
  callsTo(pathOrName: string): FeishuCall[];
  /** message_id → current message state (with `history`). */
  messages: Map<string, FeishuMessage>;
  /**
   * Messages delivered to a receiver, oldest first: `receiver` may be a chat_id (group or p2p), a user's open_id (their
   * p2p chat with the bot) or the `receive_id` of the send (e.g. an email).
   */
  messagesTo(receiver: string): FeishuMessage[];
  /** chat_id → chat (groups and the bot's p2p chats). Tests may seed entries directly or with {@link FakeFeishu.addChat}. */
  chats: Map<string, FeishuChat>;
  /** open_id → user (the directory; empty when not given, i.e. non-strict). */
  users: Map<string, FeishuUser>;
  /** open_ids that exist but cannot be reached or added (resigned, outside the app's availability). Starts as `opts.invalidUsers`. */
  invalidUsers: Set<string>;
  /** Delay, in ms, before every answer is sent (the call still runs and is recorded on arrival). Mutable; `reset()` leaves it. */
  latencyMs: number;
  /** Make the next `times` (default 1) calls to an endpoint (name, path or path template) fail (see {@link FeishuFailure}). */
  failNext(pathOrName: string, failure: FeishuFailure, times?: number): void;
  /** Add a user to the directory (making it strict from then on). */
  addUser(u: FeishuUser): FeishuUser;
  /** Seed a group chat. The bot is in it unless `botIsMember: false`. */
  addChat(c: { chat_id?: string; name?: string; members?: Iterable<string>; botIsMember?: boolean; chat_type?: 'private' | 'public'; announcementType?: 'docx' | 'doc' }): FeishuChat;
  /** Seed a message a person wrote (text), e.g. one a test then sends an `im.message.receive_v1` event for, or replies to. */
  addMessage(m: { chatId: string; senderOpenId: string; text: string }): FeishuMessage;
  /**
   * Issue the delayed-update token a `card.action.trigger` callback carries for a card message (put it in the callback's
   * `token`). It is valid for 30 minutes and two uses (docs "延时更新消息卡片"). `issuedAt` backdates it.
   */
  issueCardToken(messageId: string, opts?: { token?: string; issuedAt?: number }): string;
  /** Make every issued tenant token invalid now (as after expiry or revocation): calls with them get 99991663. */
  expireTokens(): void;
  /** Wait until `predicate(fake)` is true (polls every 10 ms; default timeout 5 s; throws listing the calls seen). */
  waitFor(predicate: (f: FakeFeishu) => boolean, timeoutMs?: number): Promise<void>;
  /**
   * Forget calls, messages, chats, failures, idempotency keys and card tokens; restore the directory, `invalidUsers`,
   * `apps` and `tokenTtlSeconds` from the options. Issued tenant tokens stay valid (clients keep their cached tokens);
   * `latencyMs` stays as set; id counters keep increasing.
   */
  reset(): void;
  /** Stop the server (closing keep-alive connections). */
  close(): Promise<void>;
}

/** Options for {@link createFakeFeishu}. */
export interface FakeFeishuOptions {
  /** Default `cli_firebell`. */
  appId?: string;
  /** Default `firebell-secret`. */
  appSecret?: string;
  /** More apps the token endpoint accepts (app_id → secret). */
  apps?: Record<string, string>;
  tenantKey?: string;
  /** Initial {@link FakeFeishu.tokenTtlSeconds} (default 7200, Feishu's). */
  tokenTtlSeconds?: number;
  /** Directory by open_id. When given it is authoritative: unknown users are refused. */
  users?: Record<string, Omit<FeishuUser, 'openId'>>;
  /** Initial {@link FakeFeishu.invalidUsers}. */
  invalidUsers?: Iterable<string>;
  /** Refuse chat_ids the fake has not seen (230002 / 232006) instead of registering them. */
  strictChats?: boolean;
  /** Card template ids that exist (others → 230099 / 200380). Default: every template id exists. */
  templates?: Iterable<string>;
  /** New chats get legacy (doc) announcements instead of docx ones. */
  legacyAnnouncements?: boolean;
  /** Card / rich-text `content` limit in bytes (docs: 30 KB; default 30 × 1024). */
  cardMaxBytes?: number;
  /** Text `content` limit in bytes (docs: 150 KB; default 150 × 1024). */
  textMaxBytes?: number;
  /** Initial {@link FakeFeishu.latencyMs}. */
  latencyMs?: number;
}

/** The chat_id this fake gives the bot's p2p chat with `openId` (Feishu answers a send to a user with that chat). */
export function p2pChatId(openId: string): string {
  return `oc_${createHash('md5').update(`p2p:${openId}`).digest('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// Limits and codes (open.feishu.cn server docs)
// ---------------------------------------------------------------------------------------------

/** `receive_id_type` values of "发送消息". */
const RECEIVE_ID_TYPES = new Set(['open_id', 'union_id', 'user_id', 'email', 'chat_id']);
/** `msg_type` values of "发送消息" (system: p2p only). */
const MSG_TYPES = new Set(['text', 'post', 'image', 'file', 'audio', 'media', 'sticker', 'interactive', 'share_chat', 'share_user', 'system']);
/** `uuid` (message, reply, chat create): "最大长度：50 字符". */
const UUID_MAX = 50;
/** Message / reply `uuid`: "持有相同 uuid 的请求，在 1 小时内至多成功发送一条消息". */
const MESSAGE_UUID_WINDOW_MS = 60 * 60 * 1000;
/** Chat create `uuid`: "持有相同 uuid + owner_id（若有）的请求 10 小时内只可成功创建 1 个群聊". */
const CHAT_UUID_WINDOW_MS = 10 * 60 * 60 * 1000;
/** Patch: "仅支持更新 14 天内发送的消息" (230031). */
const PATCH_WINDOW_MS = 14 * 24 * 60 * 60 * 1000;
/** Delayed card update token: "有效期为 30 分钟 … 同一个 token 只能使用 2 次". */
const CARD_TOKEN_TTL_MS = 30 * 60 * 1000;
const CARD_TOKEN_USES = 2;
/** Tenant token: a request with ≥ 30 min left returns the same token ("自建应用获取 tenant_access_token"). */
const TOKEN_REUSE_MIN_MS = 30 * 60 * 1000;
/** JSON 2.0 cards: at most 200 components (230099 sub-code 11310 "element exceeds the limit"). */
const CARD_V2_MAX_ELEMENTS = 200;
/** Tags JSON 2.0 no longer supports (230099 sub-code 200861). */
const CARD_V2_REMOVED_TAGS = new Set(['action', 'note']);
/** Chat create: user_id_list ≤ 50, bot_id_list ≤ 5; name "建议不超过 60 字符" (enforced here), public ≥ 2 characters. */
const CHAT_MAX_USERS = 50;
const CHAT_MAX_BOTS = 5;
const CHAT_NAME_MAX = 60;
/** Members create: "每次请求最多拉 50 个用户"; "最多同时邀请 5 个机器人". */
const MEMBERS_MAX_USERS = 50;
const MEMBERS_MAX_BOTS = 5;
/** batch_get_id: emails and mobiles "最多可传入 50 条" each. */
const BATCH_GET_ID_MAX = 50;
/** Announcement block children: "长度范围：1 ～ 50". */
const ANNOUNCEMENT_CHILDREN_MAX = 50;

const MSG_INVALID_PARAM = 'Your request contains an invalid request parameter.';

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

type Reply = { status: number; body: any; headers?: Record<string, string> };
type Ctx = { params: Record<string, string>; query: Record<string, string>; body: any; appId: string; token: string | null };
type Route = { method: string; template: string; re: RegExp; keys: string[]; name: string; auth: boolean; handler: (ctx: Ctx) => Reply };

function templateRegex(template: string): { re: RegExp; keys: string[] } {
  const keys: string[] = [];
  const src = template
    .split('/')
    .map((seg) => {
      if (seg.startsWith(':')) {
        keys.push(seg.slice(1));
        return '([^/]+)';
      }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { re: new RegExp(`^${src}$`), keys };
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === '1' || v === 1;
}

function parseJson(s: string): { ok: true; value: any } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch {
    return { ok: false };
  }
}

function normMobile(m: string): string {
  return m.replace(/^\+86/, '').replace(/[\s-]/g, '');
}

/** Plain text of a docx block: the text runs of its first `{ elements }` property. */
function blockText(block: any): string {
  if (!isObject(block)) return '';
  for (const v of Object.values(block)) {
    if (isObject(v) && Array.isArray(v.elements)) {
      return v.elements
        .map((e: any) => (typeof e?.text_run?.content === 'string' ? e.text_run.content : ''))
        .join('');
    }
  }
  return '';
}

/** Plain text a legacy (doc) announcement request inserts (InsertBlocksRequestType → paragraphs → textRun.text). */
function legacyRequestText(req: any): string {
  const payload = req?.insertBlocksRequest?.payload;
  const parsed = typeof payload === 'string' ? parseJson(payload) : { ok: true as const, value: payload };
  if (!parsed.ok || !isObject(parsed.value) || !Array.isArray(parsed.value.blocks)) return '';
  return parsed.value.blocks
    .map((b: any) => (Array.isArray(b?.paragraph?.elements) ? b.paragraph.elements.map((e: any) => e?.textRun?.text ?? '').join('') : ''))
    .filter((t: string) => t !== '')
    .join('\n');
}

function describeCall(c: FeishuCall, i: number): string {
  let a = JSON.stringify({ ...c.query, ...(isObject(c.body) ? c.body : {}) });
  if (a.length > 300) a = `${a.slice(0, 300)}…`;
  const r = c.status === 200 && c.response?.code === 0 ? 'ok' : `HTTP ${c.status} code=${c.response?.code ?? '-'}`;
  return `  ${i + 1}. ${c.method} ${c.name} ${a} → ${r}`;
}

// ---------------------------------------------------------------------------------------------
// the fake
// ---------------------------------------------------------------------------------------------

/** Start a fake Feishu open-apis server on 127.0.0.1 with a random port. */
export async function createFakeFeishu(opts: FakeFeishuOptions = {}): Promise<FakeFeishu> {
  const appId = opts.appId ?? 'cli_firebell';
  const appSecret = opts.appSecret ?? 'firebell-secret';
  const tenantKey = opts.tenantKey ?? 'tk_firebell';
  const cardMaxBytes = opts.cardMaxBytes ?? 30 * 1024;
  const textMaxBytes = opts.textMaxBytes ?? 150 * 1024;
  const templates = opts.templates ? new Set(opts.templates) : null;

  let seq = 0; // id counter (never reset)
  const nextHex = (n = 32): string => (++seq).toString(16).padStart(n, '0');
  const logId = (): string => `2026${nextHex(30).toUpperCase()}`;

  const failures = new Map<string, { failure: FeishuFailure; left: number }[]>();
  const delayed = new Set<NodeJS.Timeout>();
  const messageUuids = new Map<string, { messageId: string; at: number }>();
  const chatUuids = new Map<string, { chatId: string; at: number }>();
  const cardTokens = new Map<string, { messageId: string; issuedAt: number; uses: number }>();
  const announcementTokens = new Map<string, any>(); // docx client_token → response data
  const currentToken = new Map<string, string>(); // app_id → latest token

  const seedApps = (m: Map<string, string>): void => {
    m.clear();
    m.set(appId, appSecret);
    for (const [k, v] of Object.entries(opts.apps ?? {})) m.set(k, v);
  };
  const seedUsers = (m: Map<string, FeishuUser>): void => {
    m.clear();
    for (const [openId, u] of Object.entries(opts.users ?? {})) m.set(openId, { openId, ...u });
  };
  let strictUsers = opts.users !== undefined;

  const newAnnouncement = (type: 'docx' | 'doc'): FeishuAnnouncement => ({ type, revision: 1, blocks: [], text: '', requests: [], updatedAt: 0 });

  const fake: FakeFeishu = {
    url: '',
    appId,
    appSecret,
    tenantKey,
    apps: new Map(),
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 7200,
    tokens: new Map(),
    calls: [],
    callsTo: (x) => fake.calls.filter((c) => matches(x, c.name, c.path)),
    messages: new Map(),
    messagesTo: (receiver) =>
      [...fake.messages.values()]
        .filter((m) => m.chat_id === receiver || m.userOpenId === receiver || m.receive_id === receiver)
        .sort((a, b) => a.create_time - b.create_time),
    chats: new Map(),
    users: new Map(),
    invalidUsers: new Set(opts.invalidUsers ?? []),
    latencyMs: opts.latencyMs ?? 0,
    failNext(pathOrName, failure, times = 1) {
      const q = failures.get(pathOrName) ?? [];
      q.push({ failure, left: times });
      failures.set(pathOrName, q);
    },
    addUser(u) {
      strictUsers = true;
      fake.users.set(u.openId, { ...u });
      return fake.users.get(u.openId) as FeishuUser;
    },
    addChat(c) {
      const chat_id = c.chat_id ?? `oc_${nextHex()}`;
      const chat: FeishuChat = {
        chat_id,
        name: c.name ?? chat_id,
        description: '',
        chat_mode: 'group',
        chat_type: c.chat_type ?? 'private',
        group_message_type: 'chat',
        owner_id: appId,
        owner_id_type: 'app_id',
        members: new Set(c.members ?? []),
        bots: new Set(c.botIsMember === false ? [] : [appId]),
        managers: new Set(),
        announcement: newAnnouncement(c.announcementType ?? (opts.legacyAnnouncements ? 'doc' : 'docx')),
        dissolved: false,
        created_at: Date.now(),
      };
      fake.chats.set(chat_id, chat);
      return chat;
    },
    addMessage(m) {
      if (m.chatId === p2pChatId(m.senderOpenId)) p2pChat(resolveUser(m.senderOpenId, 'open_id') ?? { openId: m.senderOpenId, name: m.senderOpenId });
      else lookupChat(m.chatId);
      const content = JSON.stringify({ text: m.text });
      const now = Date.now();
      const msg: FeishuMessage = {
        message_id: `om_${nextHex()}`,
        chat_id: m.chatId,
        msg_type: 'text',
        content,
        parsed: { text: m.text },
        sender: { id: m.senderOpenId, id_type: 'open_id', sender_type: 'user' },
        create_time: now,
        update_time: now,
        deleted: false,
        pinned: false,
        history: [{ content, parsed: { text: m.text }, via: 'seed', at: now }],
        ...(fake.chats.get(m.chatId)?.p2pUser ? { userOpenId: fake.chats.get(m.chatId)?.p2pUser } : {}),
      };
      fake.messages.set(msg.message_id, msg);
      return msg;
    },
    issueCardToken(messageId, o = {}) {
      const token = o.token ?? `c-${nextHex(40)}`;
      cardTokens.set(token, { messageId, issuedAt: o.issuedAt ?? Date.now(), uses: 0 });
      return token;
    },
    expireTokens() {
      const now = Date.now();
      for (const t of fake.tokens.values()) t.expiresAt = Math.min(t.expiresAt, now - 1);
    },
    async waitFor(predicate, timeoutMs = 5000) {
      await pollUntil(() => predicate(fake), timeoutMs, 'FakeFeishu', () => {
        const lines = fake.calls.map(describeCall);
        return `Open API calls seen (${lines.length}):\n${lines.join('\n') || '  (none)'}`;
      });
    },
    reset() {
      fake.calls.length = 0;
      fake.messages.clear();
      fake.chats.clear();
      failures.clear();
      messageUuids.clear();
      chatUuids.clear();
      cardTokens.clear();
      announcementTokens.clear();
      seedUsers(fake.users);
      strictUsers = opts.users !== undefined;
      seedApps(fake.apps);
      fake.invalidUsers.clear();
      for (const u of opts.invalidUsers ?? []) fake.invalidUsers.add(u);
      fake.tokenTtlSeconds = opts.tokenTtlSeconds ?? 7200;
    },
    close: async () => {
      for (const t of delayed) clearTimeout(t);
      delayed.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  seedApps(fake.apps);
  seedUsers(fake.users);

  // -------------------------------------------------------------------------------------------
  // answers
  // -------------------------------------------------------------------------------------------
  const ok = (data: any = {}): Reply => ({ status: 200, body: { code: 0, msg: 'success', data } });
  const bad = (code: number, msg: string, status = 400): Reply => ({ status, body: { code, msg, error: { log_id: logId() } } });
  /** Parameter errors of the im message APIs (230001 with an `ext`, as "如何解决 230001 错误" shows). */
  const badParam = (ext: string): Reply => bad(230001, `Your request contains an invalid request parameter, ext=${ext}.`);
  /** Gateway-level schema validation of a request field. */
  const badField = (field: string): Reply => bad(99992402, `field validation failed: ${field}`);
  /** 230099 "Failed to create card content" with the documented sub-code in `ext`. */
  const badCard = (sub: number, errMsg: string): Reply =>
    bad(230099, `Failed to create card content, ext=ErrCode: ${sub}; ErrMsg: ${errMsg}; ErrorValue: ; code:230099`);

  // -------------------------------------------------------------------------------------------
  // state helpers
  // -------------------------------------------------------------------------------------------
  function matches(key: string, name: string, path: string): boolean {
    if (key === name || key === path) return true;
    if (!key.includes(':')) return false;
    return templateRegex(key).re.test(path);
  }

  /** A user by id of `idType`; `null` when unknown (strict directory) or malformed. */
  const resolveUser = (id: unknown, idType: string): FeishuUser | null => {
    if (typeof id !== 'string' || id === '') return null;
    if (idType === 'open_id') {
      if (!id.startsWith('ou_')) return null;
      return fake.users.get(id) ?? (strictUsers ? null : { openId: id, name: id });
    }
    const all = [...fake.users.values()];
    if (idType === 'union_id') {
      if (!id.startsWith('on_')) return null;
      return all.find((u) => u.unionId === id) ?? (strictUsers ? null : { openId: `ou_${createHash('md5').update(id).digest('hex')}`, name: id, unionId: id });
    }
    if (idType === 'user_id') {
      if (/^o[unc]_/.test(id)) return null;
      return all.find((u) => u.userId === id) ?? (strictUsers ? null : { openId: `ou_${createHash('md5').update(id).digest('hex')}`, name: id, userId: id });
    }
    if (idType === 'email') {
      if (!id.includes('@')) return null;
      const e = id.toLowerCase();
      return all.find((u) => u.email?.toLowerCase() === e) ?? (strictUsers ? null : { openId: `ou_${createHash('md5').update(e).digest('hex')}`, name: id, email: id });
    }
    return null;
  };

  const usable = (u: FeishuUser): boolean => !u.resigned && !fake.invalidUsers.has(u.openId);

  /** A group chat by id: unseen `oc_…` ids are registered as existing groups the bot is in, unless strict. */
  function lookupChat(id: unknown): FeishuChat | null {
    if (typeof id !== 'string' || !id.startsWith('oc_')) return null;
    const known = fake.chats.get(id);
    if (known) return known;
    if (opts.strictChats) return null;
    const chat = fake.addChat({ chat_id: id, name: id });
    chat.autoRegistered = true;
    return chat;
  }

  const p2pChat = (u: FeishuUser): FeishuChat => {
    const id = p2pChatId(u.openId);
    const known = fake.chats.get(id);
    if (known) return known;
    const chat: FeishuChat = {
      chat_id: id,
      name: '',
      description: '',
      chat_mode: 'p2p',
      chat_type: 'p2p',
      group_message_type: 'chat',
      owner_id: appId,
      owner_id_type: 'app_id',
      members: new Set([u.openId]),
      bots: new Set([appId]),
      managers: new Set(),
      p2pUser: u.openId,
      announcement: newAnnouncement('docx'),
      dissolved: false,
      created_at: Date.now(),
    };
    fake.chats.set(id, chat);
    return chat;
  };

  const botIn = (chat: FeishuChat): boolean => chat.autoRegistered === true || chat.bots.has(appId);

  /** Validate a card JSON (the parsed `content` of an interactive message). */
  const checkCard = (card: unknown): Reply | null => {
    const parseErr = (): Reply => badCard(200621, 'parse card json err, please check whether the card json is correct');
    if (!isObject(card)) return parseErr();
    if (card.type === 'template') {
      const id = card.data?.template_id;
      if (typeof id !== 'string' || id === '') return parseErr();
      if (templates && !templates.has(id)) return badCard(200380, 'template does not exist, please confirm whether this template has been released');
      return null;
    }
    if (card.type === 'card') return typeof card.data?.card_id === 'string' && card.data.card_id !== '' ? null : parseErr();
    if (card.schema === '2.0') {
      // JSON 2.0: elements live under `body`; top-level `elements` / `i18n_elements` are not supported and, unlike 1.0,
      // unsupported properties are errors ("卡片 JSON 2.0 版本更新说明").
      if (!isObject(card.body) || !Array.isArray(card.body.elements)) return parseErr();
      if ('elements' in card || 'i18n_elements' in card) return parseErr();
      // "JSON 2.0 结构暂时仅支持共享卡片 … update_multi 参数仅支持设为 true".
      if (isObject(card.config) && card.config.update_multi === false) return badCard(11310, 'cards of schema V2 only support update_multi: true');
      let count = 0;
      let removed: string | null = null;
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) return v.forEach(walk);
        if (!isObject(v)) return;
        if (typeof v.tag === 'string' && v.tag !== 'plain_text' && v.tag !== 'lark_md') {
          count += 1;
          if (CARD_V2_REMOVED_TAGS.has(v.tag) && removed === null) removed = v.tag;
        }
        for (const x of Object.values(v)) walk(x);
      };
      walk(card.body.elements);
      if (removed !== null) {
        return bad(230099, `Failed to create card content, ext=ErrCode: 200861; ErrPath: ROOT -> body -> elements; ErrMsg: cards of schema V2 no longer support this capability; ErrorValue: unsupported tag ${removed}; code:230099`);
      }
      if (count > CARD_V2_MAX_ELEMENTS) return badCard(11310, 'element exceeds the limit');
      return null;
    }
    if (card.schema !== undefined) return parseErr();
    // JSON 1.0: `elements` (or `i18n_elements`) at the top level.
    if (!Array.isArray(card.elements) && !isObject(card.i18n_elements)) return parseErr();
    return null;
  };

  /** Validate `content` for `msg_type` ("发送消息内容"); returns the parsed content or an error. */
  const checkContent = (msgType: string, content: unknown): { parsed: any } | { error: Reply } => {
    if (typeof content !== 'string' || content === '') return { error: badField('content') };
    // "文本消息请求体最大不能超过 150 KB；卡片消息、富文本消息请求体最大不能超过 30 KB" (230025).
    const bytes = Buffer.byteLength(content, 'utf8');
    const limit = msgType === 'text' ? textMaxBytes : msgType === 'interactive' || msgType === 'post' ? cardMaxBytes : Infinity;
    if (bytes > limit) return { error: bad(230025, 'The length of the message content reaches its limit.') };
    const p = parseJson(content);
    if (!p.ok) return { error: msgType === 'interactive' ? badCard(200621, 'parse card json err, please check whether the card json is correct') : badParam('invalid message content') };
    const v = p.value;
    const str = (k: string): boolean => isObject(v) && typeof v[k] === 'string' && v[k] !== '';
    switch (msgType) {
      case 'text':
        return str('text') ? { parsed: v } : { error: badParam('invalid message content') };
      case 'post': {
        // { zh_cn: { title?, content: [[…]] }, en_us: … } (or wrapped in `post`).
        const body = isObject(v) && isObject(v.post) ? v.post : v;
        const locales = isObject(body) ? Object.values(body).filter(isObject) : [];
        const good = locales.length > 0 && locales.every((l) => Array.isArray(l.content) && l.content.every((line: unknown) => Array.isArray(line)));
        return good ? { parsed: v } : { error: badParam('invalid message content') };
      }
      case 'interactive': {
        const err = checkCard(v);
        return err ? { error: err } : { parsed: v };
      }
      case 'image':
        return str('image_key') ? { parsed: v } : { error: badParam('invalid message content') };
      case 'file':
      case 'audio':
      case 'media':
      case 'sticker':
        return str('file_key') ? { parsed: v } : { error: badParam('invalid message content') };
      case 'share_chat':
        return str('chat_id') ? { parsed: v } : { error: badParam('invalid message content') };
      case 'share_user':
        return str('user_id') ? { parsed: v } : { error: badParam('invalid message content') };
      case 'system':
        return str('type') ? { parsed: v } : { error: badParam('invalid message content') };
      default:
        return { error: badField('msg_type') };
    }
  };

  /** `<at user_id="ou_…">Name</at>` in a text message → `@_user_N` placeholders and a `mentions` list, as the API echoes it. */
  const textMentions = (parsed: any): { display: string; mentions: FeishuMessage['mentions'] } | null => {
    if (typeof parsed?.text !== 'string' || !parsed.text.includes('<at ')) return null;
    const mentions: NonNullable<FeishuMessage['mentions']> = [];
    const text = parsed.text.replace(/<at user_id="([^"]*)">([^<]*)<\/at>/g, (_m: string, id: string, name: string) => {
      if (id === 'all') return '@_all';
      const key = `@_user_${mentions.length + 1}`;
      mentions.push({ key, id, id_type: 'open_id', name, tenant_key: tenantKey });
      return key;
    });
    return mentions.length ? { display: JSON.stringify({ ...parsed, text }), mentions } : null;
  };

  const messageJson = (m: FeishuMessage): Record<string, any> => {
    const tm = m.msg_type === 'text' ? textMentions(m.parsed) : null;
    return {
      message_id: m.message_id,
      ...(m.root_id ? { root_id: m.root_id } : {}),
      ...(m.parent_id ? { parent_id: m.parent_id } : {}),
      ...(m.thread_id ? { thread_id: m.thread_id } : {}),
      msg_type: m.msg_type,
      create_time: String(m.create_time),
      update_time: String(m.update_time),
      deleted: m.deleted,
      updated: m.history.length > 1,
      chat_id: m.chat_id,
      sender: { ...m.sender, tenant_key: tenantKey },
      body: { content: tm?.display ?? m.content },
      ...(m.mentions?.length ? { mentions: m.mentions } : {}),
    };
  };

  const chatJson = (c: FeishuChat): Record<string, any> => ({
    chat_id: c.chat_id,
    avatar: '',
    name: c.name,
    description: c.description,
    owner_id: c.owner_id,
    owner_id_type: c.owner_id_type,
    add_member_permission: 'all_members',
    share_card_permission: 'allowed',
    at_all_permission: 'all_members',
    edit_permission: 'all_members',
    group_message_type: c.group_message_type,
    chat_mode: c.chat_mode,
    chat_type: c.chat_type,
    chat_tag: 'inner',
    external: false,
    tenant_key: tenantKey,
    join_message_visibility: 'all_members',
    leave_message_visibility: 'all_members',
    membership_approval: 'no_approval_required',
    moderation_permission: 'all_members',
    user_count: String(c.members.size),
    bot_count: String(c.bots.size),
  });

  /** The receiver of `im.message.create`: a group chat the bot is in, or the p2p chat with a reachable user. */
  const resolveReceiver = (type: string, id: unknown): { chat: FeishuChat; user?: FeishuUser } | { error: Reply } => {
    if (typeof id !== 'string' || id === '') return { error: badField('receive_id') };
    if (type === 'chat_id') {
      if (!id.startsWith('oc_')) return { error: bad(230034, 'The receive_id is invalid.') };
      const chat = lookupChat(id);
      // An unknown chat looks to the bot like one it is not in.
      if (!chat) return { error: bad(230002, 'The bot can not be outside the group.') };
      if (chat.dissolved) return { error: bad(232009, 'Your request specifies a chat which has already been dissolved.') };
      if (!botIn(chat)) return { error: bad(230002, 'The bot can not be outside the group.') };
      return { chat };
    }
    // Ids that do not fit receive_id_type: "请传入与 receive_id_type 类型相匹配的 ID" (230034).
    const prefixOk = type === 'open_id' ? id.startsWith('ou_') : type === 'union_id' ? id.startsWith('on_') : type === 'email' ? id.includes('@') : !/^o[unc]_/.test(id);
    if (!prefixOk) return { error: bad(230034, 'The receive_id is invalid.') };
    const user = resolveUser(id, type);
    // Unknown users and users outside the app's availability (resigned included): 230013.
    if (!user || !usable(user)) return { error: bad(230013, 'Bot has NO availability to this user.') };
    return { chat: p2pChat(user), user };
  };

  const storeMessage = (m: Omit<FeishuMessage, 'history' | 'create_time' | 'update_time' | 'deleted' | 'pinned'>, via: FeishuMessageVia): FeishuMessage => {
    const now = Date.now();
    const msg: FeishuMessage = { ...m, create_time: now, update_time: now, deleted: false, pinned: false, history: [{ content: m.content, parsed: m.parsed, via, at: now }] };
    const tm = msg.msg_type === 'text' ? textMentions(msg.parsed) : null;
    if (tm?.mentions) msg.mentions = tm.mentions;
    fake.messages.set(msg.message_id, msg);
    return msg;
  };

  const uuidHit = (kind: string, uuid: unknown): FeishuMessage | null => {
    if (typeof uuid !== 'string' || uuid === '') return null;
    const hit = messageUuids.get(`${kind}:${uuid}`);
    if (!hit || Date.now() - hit.at > MESSAGE_UUID_WINDOW_MS) return null;
    return fake.messages.get(hit.messageId) ?? null;
  };

  const lookupMessage = (id: unknown): FeishuMessage | { error: Reply } => {
    const m = typeof id === 'string' ? fake.messages.get(id) : undefined;
    if (!m) return { error: badParam('invalid message_id') };
    return m;
  };

  /** Look up a group chat for the chat-management APIs (232006 invalid chat_id, 232009 dissolved, 232011 bot not in it). */
  const manageChat = (id: unknown): FeishuChat | { error: Reply } => {
    const chat = lookupChat(id);
    if (!chat || chat.chat_mode === 'p2p') return { error: bad(232006, 'Your request specifies a chat_id which is invalid.') };
    if (chat.dissolved) return { error: bad(232009, 'Your request specifies a chat which has already been dissolved.') };
    if (!botIn(chat)) return { error: bad(232011, 'Operator can NOT be out of the chat.') };
    return chat;
  };

  // -------------------------------------------------------------------------------------------
  // endpoints
  // -------------------------------------------------------------------------------------------
  const routes: Route[] = [];
  const route = (method: string, template: string, name: string, handler: (ctx: Ctx) => Reply, auth = true): void => {
    const { re, keys } = templateRegex(template);
    routes.push({ method, template, re, keys, name, auth, handler });
  };

  // 自建应用获取 tenant_access_token. `expire` is in seconds; ≥ 30 min left → the same token again.
  route('POST', '/open-apis/auth/v3/tenant_access_token/internal', 'auth.tenantAccessToken.internal', ({ body }) => {
    const id = body?.app_id;
    const secret = body?.app_secret;
    if (typeof id !== 'string' || id === '' || typeof secret !== 'string' || secret === '') return bad(10003, 'invalid param');
    const known = fake.apps.get(id);
    if (known === undefined) return bad(10003, 'invalid param');
    if (known !== secret) return bad(10014, 'app secret invalid');
    const now = Date.now();
    const cur = fake.tokens.get(currentToken.get(id) ?? '');
    if (cur && cur.expiresAt - now >= TOKEN_REUSE_MIN_MS) {
      return { status: 200, body: { code: 0, msg: 'ok', tenant_access_token: cur.token, expire: Math.floor((cur.expiresAt - now) / 1000) } };
    }
    const token = `t-${nextHex(40)}`;
    fake.tokens.set(token, { token, appId: id, issuedAt: now, expiresAt: now + fake.tokenTtlSeconds * 1000 });
    currentToken.set(id, token);
    return { status: 200, body: { code: 0, msg: 'ok', tenant_access_token: token, expire: fake.tokenTtlSeconds } };
  }, false);

  // 发送消息.
  route('POST', '/open-apis/im/v1/messages', 'im.message.create', ({ query, body }) => {
    const type = query.receive_id_type ?? '';
    if (!RECEIVE_ID_TYPES.has(type)) return badField('receive_id_type');
    const msgType = body?.msg_type;
    if (typeof msgType !== 'string' || !MSG_TYPES.has(msgType)) return badField('msg_type');
    if (body.uuid !== undefined && (typeof body.uuid !== 'string' || body.uuid.length > UUID_MAX)) return badField('uuid');
    const dup = uuidHit('create', body.uuid);
    if (dup) return ok(messageJson(dup));
    const target = resolveReceiver(type, body.receive_id);
    if ('error' in target) return target.error;
    if (msgType === 'system' && target.chat.chat_mode !== 'p2p') return badParam('system message is only supported in p2p chats');
    const c = checkContent(msgType, body.content);
    if ('error' in c) return c.error;
    const msg = storeMessage(
      {
        message_id: `om_${nextHex()}`,
        chat_id: target.chat.chat_id,
        msg_type: msgType,
        content: body.content,
        parsed: c.parsed,
        sender: { id: appId, id_type: 'app_id', sender_type: 'app' },
        receive_id_type: type,
        receive_id: body.receive_id,
        // Sent by chat_id into a p2p chat, it still went to that user.
        ...(target.user ? { userOpenId: target.user.openId } : target.chat.p2pUser ? { userOpenId: target.chat.p2pUser } : {}),
        ...(typeof body.uuid === 'string' && body.uuid !== '' ? { uuid: body.uuid } : {}),
      },
      'im.message.create',
    );
    if (msg.uuid) messageUuids.set(`create:${msg.uuid}`, { messageId: msg.message_id, at: Date.now() });
    return ok(messageJson(msg));
  });

  // 获取指定消息的内容: data.items[].
  route('GET', '/open-apis/im/v1/messages/:message_id', 'im.message.get', ({ params }) => {
    const m = lookupMessage(params.message_id);
    if ('error' in m) return m.error;
    return ok({ items: [messageJson(m)] });
  });

  // 回复消息: same chat; root_id / parent_id; reply_in_thread → thread_id.
  route('POST', '/open-apis/im/v1/messages/:message_id/reply', 'im.message.reply', ({ params, body }) => {
    const parent = lookupMessage(params.message_id);
    if ('error' in parent) return parent.error;
    const msgType = body?.msg_type;
    if (typeof msgType !== 'string' || !MSG_TYPES.has(msgType) || msgType === 'system') return badField('msg_type');
    if (body.uuid !== undefined && (typeof body.uuid !== 'string' || body.uuid.length > UUID_MAX)) return badField('uuid');
    const dup = uuidHit('reply', body.uuid);
    if (dup) return ok(messageJson(dup));
    if (parent.deleted) return bad(230011, 'The message is recalled.');
    const chat = fake.chats.get(parent.chat_id);
    if (chat?.dissolved) return bad(232009, 'Your request specifies a chat which has already been dissolved.');
    if (chat && !botIn(chat)) return bad(230002, 'The bot can not be outside the group.');
    const c = checkContent(msgType, body.content);
    if ('error' in c) return c.error;
    const inThread = truthy(body.reply_in_thread) || parent.thread_id !== undefined;
    const msg = storeMessage(
      {
        message_id: `om_${nextHex()}`,
        chat_id: parent.chat_id,
        msg_type: msgType,
        content: body.content,
        parsed: c.parsed,
        sender: { id: appId, id_type: 'app_id', sender_type: 'app' },
        root_id: parent.root_id ?? parent.message_id,
        parent_id: parent.message_id,
        ...(inThread ? { thread_id: parent.thread_id ?? `omt_${nextHex(14)}` } : {}),
        ...(parent.userOpenId ? { userOpenId: parent.userOpenId } : {}),
        ...(typeof body.uuid === 'string' && body.uuid !== '' ? { uuid: body.uuid } : {}),
      },
      'im.message.reply',
    );
    if (inThread && !parent.thread_id) parent.thread_id = msg.thread_id;
    if (msg.uuid) messageUuids.set(`reply:${msg.uuid}`, { messageId: msg.message_id, at: Date.now() });
    return ok(messageJson(msg));
  });

  // 更新已发送的消息卡片: interactive only, sent by this app, within 14 days, ≤ 30 KB.
  route('PATCH', '/open-apis/im/v1/messages/:message_id', 'im.message.patch', ({ params, body }) => {
    const m = lookupMessage(params.message_id);
    if ('error' in m) return m.error;
    if (m.deleted) return bad(230011, 'The message is recalled.');
    // "调用该接口的身份（access_token）需与发送卡片的身份一致".
    if (m.sender.sender_type !== 'app' || m.sender.id !== appId) return bad(230027, 'Lack of necessary permissions.');
    if (m.msg_type !== 'interactive') return badParam('this message type does not support update, only interactive cards can be patched');
    if (Date.now() - m.create_time > PATCH_WINDOW_MS) return bad(230031, 'Message can only be modified within 14 days after sending.');
    const c = checkContent('interactive', body?.content);
    if ('error' in c) return c.error;
    const now = Date.now();
    m.content = body.content;
    m.parsed = c.parsed;
    m.update_time = now;
    m.history.push({ content: body.content, parsed: c.parsed, via: 'im.message.patch', at: now });
    return ok({});
  });

  // 创建群: uuid (+ owner_id) de-duplicates for 10 h; the bot joins (and owns it unless owner_id is given).
  route('POST', '/open-apis/im/v1/chats', 'im.chat.create', ({ query, body }) => {
    const idType = query.user_id_type ?? 'open_id';
    if (!['open_id', 'union_id', 'user_id'].includes(idType)) return badField('user_id_type');
    const uuid = query.uuid;
    if (uuid !== undefined && uuid.length > UUID_MAX) return badField('uuid');
    const b = isObject(body) ? body : {};
    const uuidKey = uuid ? `${uuid}|${typeof b.owner_id === 'string' ? b.owner_id : ''}` : null;
    if (uuidKey) {
      const hit = chatUuids.get(uuidKey);
      const chat = hit && Date.now() - hit.at <= CHAT_UUID_WINDOW_MS ? fake.chats.get(hit.chatId) : undefined;
      if (chat) return ok(chatJson(chat));
    }
    const chatType = b.chat_type ?? 'private';
    if (chatType !== 'private' && chatType !== 'public') return bad(232001, MSG_INVALID_PARAM);
    if (b.chat_mode !== undefined && b.chat_mode !== 'group') return bad(232001, MSG_INVALID_PARAM);
    const name = typeof b.name === 'string' ? b.name : '';
    if (chatType === 'public' && name === '') return bad(232042, "Public group chat's name should not be empty.");
    if (chatType === 'public' && [...name].length < 2) return bad(232020, 'Name can NOT be less than two characters for public chats.');
    if ([...name].length > CHAT_NAME_MAX) return bad(232001, MSG_INVALID_PARAM);
    const userIds: unknown[] = Array.isArray(b.user_id_list) ? b.user_id_list : [];
    const botIds: unknown[] = Array.isArray(b.bot_id_list) ? b.bot_id_list : [];
    if (userIds.length > CHAT_MAX_USERS || botIds.length > CHAT_MAX_BOTS) return bad(232001, MSG_INVALID_PARAM);
    const members: string[] = [];
    for (const id of userIds) {
      const u = resolveUser(id, idType);
      if (u?.resigned) return bad(232022, 'User has already resigned.');
      if (!u || fake.invalidUsers.has(u.openId)) return bad(232043, 'Your request contains unavailable ids.');
      members.push(u.openId);
    }
    for (const id of botIds) if (typeof id !== 'string' || !id.startsWith('cli_')) return bad(232043, 'Your request contains unavailable ids.');
    let owner: { id: string; type: 'open_id' | 'app_id' } = { id: appId, type: 'app_id' };
    if (typeof b.owner_id === 'string' && b.owner_id !== '') {
      const u = resolveUser(b.owner_id, idType);
      if (!u || !usable(u)) return bad(232030, 'Your request specifies a user_id which is invalid.');
      owner = { id: u.openId, type: 'open_id' };
      if (!members.includes(u.openId)) members.push(u.openId);
    }
    const chat = fake.addChat({ name: name === '' ? '(无主题)' : name, members, chat_type: chatType });
    chat.description = typeof b.description === 'string' ? b.description : '';
    chat.group_message_type = b.group_message_type === 'thread' ? 'thread' : 'chat';
    chat.owner_id = owner.id;
    chat.owner_id_type = owner.type;
    for (const id of botIds) chat.bots.add(id as string);
    if (owner.type === 'open_id' && truthy(query.set_bot_manager)) chat.managers.add(appId);
    if (uuid) chat.uuid = uuid;
    if (uuidKey) chatUuids.set(uuidKey, { chatId: chat.chat_id, at: Date.now() });
    return ok(chatJson(chat));
  });

  // 获取群信息.
  route('GET', '/open-apis/im/v1/chats/:chat_id', 'im.chat.get', ({ params }) => {
    const chat = manageChat(params.chat_id);
    if ('error' in chat) return chat.error;
    return ok(chatJson(chat));
  });

  // 更新群信息 (name, description, owner_id, …).
  route('PUT', '/open-apis/im/v1/chats/:chat_id', 'im.chat.update', ({ params, body }) => {
    const chat = manageChat(params.chat_id);
    if ('error' in chat) return chat.error;
    const b = isObject(body) ? body : {};
    if (b.name !== undefined) {
      if (typeof b.name !== 'string' || [...b.name].length > CHAT_NAME_MAX) return bad(232001, MSG_INVALID_PARAM);
      chat.name = b.name;
    }
    if (b.description !== undefined) {
      if (typeof b.description !== 'string') return bad(232001, MSG_INVALID_PARAM);
      chat.description = b.description;
    }
    if (typeof b.owner_id === 'string' && b.owner_id !== '') {
      const u = resolveUser(b.owner_id, 'open_id');
      if (!u || !usable(u)) return bad(232030, 'Your request specifies a user_id which is invalid.');
      chat.owner_id = u.openId;
      chat.owner_id_type = 'open_id';
      chat.members.add(u.openId);
    }
    return ok({});
  });

  // 将用户或机器人拉入群聊. succeed_type 0 (default): unknown ids fail the call, resigned/unavailable ones are listed in
  // invalid_id_list and the rest are added; 1: add what can be added, list the rest; 2: any bad id fails the call.
  route('POST', '/open-apis/im/v1/chats/:chat_id/members', 'im.chatMembers.create', ({ params, query, body }) => {
    const idType = query.member_id_type ?? 'open_id';
    if (!['open_id', 'union_id', 'user_id', 'app_id'].includes(idType)) return badField('member_id_type');
    const succeedType = query.succeed_type === undefined ? 0 : Number(query.succeed_type);
    if (![0, 1, 2].includes(succeedType)) return badField('succeed_type');
    const chat = manageChat(params.chat_id);
    if ('error' in chat) return chat.error;
    const ids: unknown[] = Array.isArray(body?.id_list) ? body.id_list : [];
    if (ids.length === 0) return bad(232027, 'There are no valid members in the ID list specified in your request.');
    if (idType === 'app_id') {
      if (ids.length > MEMBERS_MAX_BOTS) return bad(232001, MSG_INVALID_PARAM);
      const badIds = ids.filter((id) => typeof id !== 'string' || !id.startsWith('cli_'));
      if (badIds.length && succeedType !== 1) return bad(232043, 'Your request contains unavailable ids.');
      for (const id of ids) if (!badIds.includes(id)) chat.bots.add(id as string);
      return ok({ invalid_id_list: [], not_existed_id_list: badIds, pending_approval_id_list: [] });
    }
    if (ids.length > MEMBERS_MAX_USERS) return bad(232001, MSG_INVALID_PARAM);
    const add: string[] = [];
    const invalid: string[] = [];
    const notExisted: string[] = [];
    for (const id of ids) {
      const u = resolveUser(id, idType);
      if (!u) notExisted.push(String(id));
      else if (!usable(u)) invalid.push(String(id));
      else add.push(u.openId);
    }
    if (notExisted.length && succeedType !== 1) {
      return idType === 'open_id'
        ? bad(99992351, `these open ids not existed: ${JSON.stringify(notExisted)}`)
        : bad(232043, 'Your request contains unavailable ids.');
    }
    if (invalid.length && succeedType === 2) return bad(232043, 'Your request contains unavailable ids.');
    if (add.length === 0 && succeedType !== 1) return bad(232027, 'There are no valid members in the ID list specified in your request.');
    for (const id of add) chat.members.add(id);
    return ok({ invalid_id_list: invalid, not_existed_id_list: notExisted, pending_approval_id_list: [] });
  });

  // 获取群公告信息 (legacy doc announcements only).
  route('GET', '/open-apis/im/v1/chats/:chat_id/announcement', 'im.chatAnnouncement.get', ({ params }) => {
    const chat = manageChat(params.chat_id);
    if ('error' in chat) return chat.error;
    const a = chat.announcement;
    if (a.type !== 'doc') return bad(232097, 'Unable to operate docx type chat announcement.');
    const t = String(Math.floor((a.updatedAt || chat.created_at) / 1000));
    return ok({ content: a.text, revision: String(a.revision), create_time: String(Math.floor(chat.created_at / 1000)), update_time: t, owner_id_type: chat.owner_id_type, owner_id: chat.owner_id, modifier_id_type: 'app_id', modifier_id: appId });
  });

  // 更新群公告信息 (legacy doc format: { revision, requests: [JSON string] }); docx announcements → 232097.
  route('PATCH', '/open-apis/im/v1/chats/:chat_id/announcement', 'im.chatAnnouncement.patch', ({ params, body }) => {
    const chat = manageChat(params.chat_id);
    if ('error' in chat) return chat.error;
    const a = chat.announcement;
    if (a.type !== 'doc') return bad(232097, 'Unable to operate docx type chat announcement.');
    const rev = Number(body?.revision);
    if (body?.revision === undefined || !Number.isInteger(rev)) return bad(232001, MSG_INVALID_PARAM);
    // "传入的版本号和最新版本号的差距不能超过 100".
    if (rev > a.revision || a.revision - rev > 100) return bad(232001, MSG_INVALID_PARAM);
    const requests: unknown[] = Array.isArray(body?.requests) ? body.requests : [];
    if (requests.length === 0) return bad(232001, MSG_INVALID_PARAM);
    const parsed: any[] = [];
    for (const r of requests) {
      const p = typeof r === 'string' ? parseJson(r) : { ok: false as const };
      if (!p.ok || !isObject(p.value)) return bad(232018, 'Updating announcement failed.');
      parsed.push(p.value);
    }
    a.requests.push(...parsed);
    const text = parsed.map(legacyRequestText).filter((t) => t !== '').join('\n');
    a.text = [a.text, text].filter((t) => t !== '').join('\n');
    a.revision += 1;
    a.updatedAt = Date.now();
    return ok({});
  });

  // 获取群公告基本信息 (docx).
  route('GET', '/open-apis/docx/v1/chats/:chat_id/announcement', 'docx.chatAnnouncement.get', ({ params }) => {
    const chat = lookupChat(params.chat_id);
    if (!chat || chat.chat_mode === 'p2p') return bad(1770002, 'not found', 404);
    if (!botIn(chat)) return bad(1772003, 'Operator can NOT be out of the chat.');
    const a = chat.announcement;
    const created = Math.floor(chat.created_at / 1000);
    const updated = Math.floor((a.updatedAt || chat.created_at) / 1000);
    return ok({ revision_id: a.revision, create_time: created, update_time: updated, owner_id: chat.owner_id, owner_id_type: chat.owner_id_type, modifier_id: appId, modifier_id_type: 'app_id', announcement_type: a.type, create_time_v2: String(created), update_time_v2: String(updated) });
  });

  // 获取群公告所有块 (docx): the root page block, then the created blocks.
  route('GET', '/open-apis/docx/v1/chats/:chat_id/announcement/blocks', 'docx.chatAnnouncementBlock.list', ({ params }) => {
    const chat = lookupChat(params.chat_id);
    if (!chat || chat.chat_mode === 'p2p') return bad(1770002, 'not found', 404);
    if (!botIn(chat)) return bad(1772003, 'Operator can NOT be out of the chat.');
    if (chat.announcement.type !== 'docx') return bad(1772006, 'announcement type is not supported');
    const root = { block_id: chat.chat_id, block_type: 1, children: chat.announcement.blocks.filter((b) => b.parent_id === chat.chat_id).map((b) => b.block_id), page: { elements: [], style: {} } };
    return ok({ items: [root, ...chat.announcement.blocks], has_more: false });
  });

  // 在群公告中创建块 (docx): block_id = chat_id for the root; 1–50 children; client_token makes it idempotent.
  route('POST', '/open-apis/docx/v1/chats/:chat_id/announcement/blocks/:block_id/children', 'docx.chatAnnouncementBlockChildren.create', ({ params, query, body }) => {
    const chat = lookupChat(params.chat_id);
    if (!chat || chat.chat_mode === 'p2p') return bad(1770002, 'not found', 404);
    if (!botIn(chat)) return bad(1772003, 'Operator can NOT be out of the chat.');
    const a = chat.announcement;
    if (a.type !== 'docx') return bad(1772006, 'announcement type is not supported');
    const token = query.client_token;
    if (token && announcementTokens.has(token)) return ok(announcementTokens.get(token));
    const parentId = params.block_id as string;
    if (parentId !== chat.chat_id && !a.blocks.some((b) => b.block_id === parentId)) return bad(1770002, 'not found', 404);
    const rev = query.revision_id === undefined ? -1 : Number(query.revision_id);
    if (!Number.isInteger(rev) || rev < -1 || rev > a.revision) return bad(1770001, 'invalid param');
    // "指定的版本号与文档最新版本号差值不能超过 1000".
    if (rev !== -1 && a.revision - rev > 1000) return bad(1770021, 'too old document');
    const children: unknown[] = Array.isArray(body?.children) ? body.children : [];
    if (children.length < 1 || children.length > ANNOUNCEMENT_CHILDREN_MAX) return bad(1770001, 'invalid param');
    if (!children.every((c) => isObject(c) && Number.isInteger(c.block_type))) return bad(1770001, 'invalid param');
    const created = children.map((c) => ({ block_id: `doxcn${nextHex(22)}`, parent_id: parentId, ...(c as object) }));
    const siblings = a.blocks.filter((b) => b.parent_id === parentId);
    const index = Number.isInteger(body?.index) && body.index >= 0 && body.index < siblings.length ? body.index : siblings.length;
    const at = index < siblings.length ? a.blocks.indexOf(siblings[index]) : a.blocks.length;
    a.blocks.splice(at, 0, ...created);
    a.text = a.blocks.map(blockText).filter((t) => t !== '').join('\n');
    a.revision += 1;
    a.updatedAt = Date.now();
    // The field table (and the SDK's types) name the revision `revision_id`; the doc's example says
    // `document_revision_id`. Both are sent.
    const data = { children: created, revision_id: a.revision, document_revision_id: a.revision, client_token: token ?? `${nextHex(8)}-${nextHex(4)}` };
    if (token) announcementTokens.set(token, data);
    return ok(data);
  });

  // Pin 消息: "如果消息已经被 Pin，则该接口会返回该 Pin 的操作信息".
  route('POST', '/open-apis/im/v1/pins', 'im.pin.create', ({ body }) => {
    if (typeof body?.message_id !== 'string' || body.message_id === '') return badField('message_id');
    const m = lookupMessage(body.message_id);
    if ('error' in m) return m.error;
    if (m.deleted) return bad(230011, 'The message is recalled.');
    const chat = fake.chats.get(m.chat_id);
    if (!chat) return bad(230045, 'The chat not exist.');
    if (chat.dissolved) return bad(232009, 'Your request specifies a chat which has already been dissolved.');
    if (!botIn(chat)) return bad(230002, 'The bot can not be outside the group.');
    if (!m.pin) {
      m.pin = { message_id: m.message_id, chat_id: m.chat_id, operator_id: appId, operator_id_type: 'app_id', create_time: String(Date.now()) };
      m.pinned = true;
    }
    return ok({ pin: m.pin });
  });

  // 通过手机号或邮箱获取用户 ID: one entry per email and per mobile; unknown (or resigned, unless include_resigned) users
  // come back without user_id.
  route('POST', '/open-apis/contact/v3/users/batch_get_id', 'contact.user.batchGetId', ({ query, body }) => {
    const idType = query.user_id_type ?? 'open_id';
    if (!['open_id', 'union_id', 'user_id'].includes(idType)) return badField('user_id_type');
    const emails: unknown[] = Array.isArray(body?.emails) ? body.emails : [];
    const mobiles: unknown[] = Array.isArray(body?.mobiles) ? body.mobiles : [];
    if (emails.length > BATCH_GET_ID_MAX) return badField('emails');
    if (mobiles.length > BATCH_GET_ID_MAX) return badField('mobiles');
    const includeResigned = truthy(body?.include_resigned);
    const all = [...fake.users.values()];
    const entry = (u: FeishuUser | undefined, key: 'email' | 'mobile', value: string): Record<string, any> => {
      if (!u || (u.resigned && !includeResigned)) return { [key]: value };
      const id = idType === 'open_id' ? u.openId : idType === 'union_id' ? u.unionId : u.userId;
      return {
        ...(id ? { user_id: id } : {}),
        [key]: value,
        status: { is_frozen: false, is_resigned: u.resigned === true, is_activated: !u.resigned, is_exited: false, is_unjoin: false },
      };
    };
    const user_list = [
      ...emails.map((e) => entry(all.find((u) => typeof e === 'string' && u.email?.toLowerCase() === e.toLowerCase()), 'email', String(e))),
      ...mobiles.map((m) => entry(all.find((u) => typeof m === 'string' && u.mobile !== undefined && normMobile(u.mobile) === normMobile(m)), 'mobile', String(m))),
    ];
    return ok({ user_list });
  });

  // 获取单个用户信息: `user_id_type` names what :user_id is; the answer carries the user's ids. A user outside the app's
  // availability (or unknown) → 41050 "no user authority error".
  route('GET', '/open-apis/contact/v3/users/:user_id', 'contact.user.get', ({ params, query }) => {
    const idType = query.user_id_type ?? 'open_id';
    if (!['open_id', 'union_id', 'user_id'].includes(idType)) return badField('user_id_type');
    const u = resolveUser(params.user_id, idType);
    if (!u || u.resigned) return bad(41050, 'no user authority error');
    return ok({ user: { open_id: u.openId, ...(u.userId ? { user_id: u.userId } : {}), ...(u.unionId ? { union_id: u.unionId } : {}), name: u.name, ...(u.email ? { email: u.email } : {}) } });
  });

  // 延时更新消息卡片: { token, card } — the callback's token, 30 min, twice; only cards this app sent.
  route('POST', '/open-apis/interactive/v1/card/update', 'interactive.card.update', ({ body }) => {
    const token = body?.token;
    if (typeof token !== 'string' || !/^c-.+/.test(token)) return bad(300020, 'invalid token format');
    const t = cardTokens.get(token);
    if (!t || Date.now() - t.issuedAt > CARD_TOKEN_TTL_MS) return bad(300030, 'token expired');
    if (t.uses >= CARD_TOKEN_USES) return bad(300040, 'token has been used beyond the limit');
    const card = body.card;
    if (!isObject(card)) return bad(10002, 'card param check failed');
    const { open_ids: openIds, ...rest } = card;
    if (checkCard(rest)) return bad(11311, 'card format is invalid');
    const content = JSON.stringify(rest);
    // Docs: keep the card within 30 KB; 100000 is documented for content over the hard limit.
    if (Buffer.byteLength(content, 'utf8') > cardMaxBytes) return bad(100000, 'card content exceeds the size limit');
    const m = fake.messages.get(t.messageId);
    if (!m) return bad(300030, 'token expired');
    if (m.deleted) return bad(200000, 'message has been recalled');
    if (m.sender.id !== appId || m.msg_type !== 'interactive') return bad(200310, 'cannot update cards sent by other apps');
    // Shared cards (update_multi: true; JSON 2.0 default) update for everyone; exclusive ones need open_ids (300090).
    const shared = rest.schema === '2.0' ? rest.config?.update_multi !== false : rest.config?.update_multi === true;
    if (!shared && !(Array.isArray(openIds) && openIds.length > 0)) return bad(300090, 'open_ids is required for cards that are not shared');
    if (Array.isArray(openIds) && !openIds.every((id) => typeof id === 'string' && id.startsWith('ou_'))) return bad(200320, 'invalid open_ids');
    t.uses += 1;
    const now = Date.now();
    m.content = content;
    m.parsed = rest;
    m.update_time = now;
    m.history.push({ content, parsed: rest, via: 'interactive.card.update', at: now, ...(Array.isArray(openIds) ? { openIds } : {}) });
    return { status: 200, body: { code: 0, msg: 'ok' } };
  });

  // -------------------------------------------------------------------------------------------
  // HTTP
  // -------------------------------------------------------------------------------------------
  const takeFailure = (name: string, path: string): FeishuFailure | undefined => {
    for (const [key, q] of failures) {
      if (!matches(key, name, path)) continue;
      const head = q[0];
      if (!head) continue;
      head.left -= 1;
      if (head.left <= 0) q.shift();
      if (q.length === 0) failures.delete(key);
      return head.failure;
    }
    return undefined;
  };

  const failureReply = (f: FeishuFailure): Reply => {
    if ('rateLimited' in f) {
      return {
        status: f.status ?? 400,
        body: { code: 99991400, msg: 'request trigger frequency limit', error: { log_id: logId() } },
        headers: { 'x-ogw-ratelimit-limit': String(f.limit ?? 100), 'x-ogw-ratelimit-reset': String(f.resetSeconds ?? 1) },
      };
    }
    if ('code' in f) return bad(f.code, f.msg ?? `injected error ${f.code}`, f.status ?? 400);
    if ('hang' in f) return { status: 0, body: 'no answer' };
    return bad(1500, 'internal error', 500);
  };

  const send = (res: http.ServerResponse, r: Reply): void => {
    const isText = typeof r.body === 'string';
    res.writeHead(r.status, {
      'Content-Type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      'X-Tt-Logid': logId(),
      ...(r.headers ?? {}),
    });
    res.end(isText ? r.body : JSON.stringify(r.body));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', 'http://fake');
      const path = u.pathname;
      const method = (req.method ?? 'GET').toUpperCase();
      const query = Object.fromEntries(u.searchParams);
      const at = Date.now();
      const bearer = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1]?.trim() ?? null;

      let body: any = {};
      let bodyOk = true;
      if (raw.trim() !== '') {
        const p = parseJson(raw);
        if (p.ok) body = p.value;
        else {
          body = { _raw: raw };
          bodyOk = false;
        }
      }

      let routeHit: Route | undefined;
      let params: Record<string, string> = {};
      for (const r of routes) {
        if (r.method !== method) continue;
        const m = r.re.exec(path);
        if (!m) continue;
        routeHit = r;
        params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1] as string)]));
        break;
      }
      const name = routeHit?.name ?? 'unknown';

      let reply: Reply;
      const injected = routeHit ? takeFailure(name, path) : undefined;
      const applyThenFail = injected !== undefined && 'applied' in injected && injected.applied === true;
      if (!routeHit) reply = { status: 404, body: '404 page not found' };
      else if (injected && !applyThenFail) reply = failureReply(injected);
      else if (!bodyOk) reply = bad(99992402, 'field validation failed: body is not valid JSON');
      else {
        let tokenApp: string | null = null;
        let authError: Reply | null = null;
        if (routeHit.auth) {
          const t = bearer === null ? undefined : fake.tokens.get(bearer);
          if (bearer === null) authError = bad(99991661, 'Missing access token for authorization. Please make a request with token attached.');
          else if (!t || t.expiresAt <= Date.now()) authError = bad(99991663, 'Invalid access token for authorization. Please make a request with token attached.');
          else tokenApp = t.appId;
        }
        if (authError) reply = authError;
        else {
          try {
            reply = routeHit.handler({ params, query, body, appId: tokenApp ?? appId, token: bearer });
          } catch (e) {
            reply = bad(1500, `internal error: ${String(e)}`, 500);
          }
        }
      }
      let appliedResponse: any;
      if (injected && applyThenFail) {
        appliedResponse = reply.body;
        reply = failureReply(injected);
      }
      fake.calls.push({ method, path, name, query, body, token: bearer, at, status: reply.status, response: reply.body, ...(applyThenFail ? { appliedResponse } : {}) });
      const final = reply;
      // Never answered: the caller's own deadline ends it (closed with the fake otherwise).
      if (injected && 'hang' in injected) return;
      if (!(fake.latencyMs > 0)) return send(res, final);
      const t = setTimeout(() => {
        delayed.delete(t);
        if (!res.destroyed && !res.writableEnded) send(res, final);
      }, fake.latencyMs);
      delayed.add(t);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
