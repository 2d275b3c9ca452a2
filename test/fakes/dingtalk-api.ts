/**
 * In-process fake of DingTalk's two HTTP API bases over one `node:http` server:
 * - the new API (`https://api.dingtalk.com`, every path starts with `/v1.0/`), and
 * - the old oapi (`https://oapi.dingtalk.com`, `/gettoken`, `/topapi/...`, `/robot/sendBySession`).
 * Their paths do not overlap, so point both of our client's bases (DINGTALK_API_URL, DINGTALK_OAPI_URL) at `fake.url`
 * (/work/shared/PLATFORMS.md §7b, §8 "DingTalk fake").
 *
 * Wire format (open.dingtalk.com docs, checked per endpoint below; "全局错误码", "调用频次与限流"):
 * - New API: JSON body, token in header `x-acs-dingtalk-access-token`. Success is HTTP 200 with the business fields
 *   themselves (no `errcode`). Errors are HTTP 4xx/5xx `{ code, message, requestid }` (string `code`). A missing header is
 *   HTTP 400 `AuthenticationFailed.MissingParameter`; an unknown or expired token is HTTP **400** `InvalidAuthentication`
 *   "不合法的access_token" (observed in several public reports, e.g. satorijs/satori#240; not 401). QPS throttling is
 *   HTTP 403 `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi` (per app and API) / `…QpsLimitForApi` (global).
 * - Old oapi: token in the query (`?access_token=`; a form body field is read too). Always HTTP 200
 *   `{ errcode, errmsg, ...}`, `errcode: 0` on success. Token problems are wrapped in `errcode: 88` with the real
 *   reason in snake_case `sub_code` (a string: "40014" invalid, "40000" blank) / `sub_msg`. Throttling is errcode 90018
 *   (per app and API) / 90002 (global).
 * - `/robot/sendBySession?session=…` (the `sessionWebhook` of a received robot message) needs no token and answers like a
 *   webhook robot: `{ errcode: 0, errmsg: 'ok' }`; its send limit answer is errcode 410100 ("自定义机器人发送群消息").
 *
 * Directory semantics: when `opts.users` is given or `addUser` was called the directory is authoritative (unknown
 * userids are refused the way DingTalk refuses them); otherwise any userid is accepted. Groups are strict: the robot can
 * only post to groups that exist here (created scene groups, or seeded with `addGroup`) and that it is a member of.
 *
 * Knobs for tests: `latencyMs` holds every answer back (the call still runs on arrival); `failNext` injects throttling,
 * outages, business errors, and failures after the work was done (`applied: true`); `expireTokens()`;
 * `groupSendLimitPerMinute` (DingTalk: 20 messages per robot per group per minute, then a 10-minute lock — documented for
 * webhook robots in "自定义机器人发送群消息"; off by default); `addTemplate` / `addGroupTemplate` (card / scene-group
 * templates that exist; when none were added, any id exists); `flowControlledUsers` (batchSend answers them as
 * flow-controlled).
 */
import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pollUntil } from './wait';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** Stable names of the endpoints the fake serves (used in `calls[].name`, `callsTo`, `failNext`). */
export type DingTalkCallName =
  | 'oauth2.accessToken'
  | 'gettoken'
  | 'robot.groupMessages.send'
  | 'robot.oToMessages.batchSend'
  | 'robot.sendBySession'
  | 'card.instances.createAndDeliver'
  | 'card.instances.update'
  | 'scenegroup.create'
  | 'scenegroup.member.add'
  | 'scenegroup.get'
  | 'user.getbymobile'
  | 'user.get'
  | 'unknown';

/** One recorded HTTP call, in arrival order. */
export interface DingTalkCall {
  /** HTTP method, e.g. `POST`. */
  method: string;
  /** URL path without the query string, e.g. `/v1.0/robot/groupMessages/send`. */
  path: string;
  /** Stable dotted endpoint name, e.g. `robot.groupMessages.send`; `unknown` for unrouted paths. */
  name: DingTalkCallName;
  /** Which base the path belongs to: `api` (api.dingtalk.com, `/v1.0/…`) or `oapi` (oapi.dingtalk.com). */
  base: 'api' | 'oapi';
  /** Decoded query string (`access_token`, `session`, `appkey`, …). */
  query: Record<string, string>;
  /** Request headers, names lower-cased. */
  headers: Record<string, string>;
  /** Parsed body: JSON, or the fields of a form-urlencoded oapi body; `{}` when empty; `{ _raw }` when unparseable. */
  body: any;
  /** The access token the call carried (api: the header; oapi: `access_token`), else null. */
  token: string | null;
  /** `Date.now()` when the request arrived. */
  at: number;
  /** HTTP status the fake answered with. */
  status: number;
  /** The JSON the fake answered with. */
  response: any;
  /** For an injected failure with `applied: true`: the answer the endpoint really produced (the caller never saw it). */
  appliedResponse?: any;
}

/**
 * A failure to inject with {@link FakeDingTalk.failNext}.
 * - `{ rateLimited: true }`: DingTalk's QPS throttling ("调用频次与限流"), nothing happens. New API: HTTP 403
 *   `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi` (`scope: 'global'` → `…QpsLimitForApi`). Old oapi: errcode 90018
 *   (`scope: 'global'` → 90002). `robot.sendBySession`: errcode 410100 (the webhook robots' send limit).
 *   `scope: 'ip'`: the IP ban answer `{ status: 1111, wait: 5, source: 'x5', punish: 'deny', uuid }` (not a standard
 *   error body, "调用频率限制").
 * - `{ status: 500 }`: an outage. New API: HTTP 500 `{ code: 'system.error', message: '未知的系统错误' }`; old oapi:
 *   HTTP 500 `{ errcode: -1, errmsg: '系统繁忙' }`.
 * - `{ code, message?, status? }`: a business error. New API: HTTP `status` (default 400) `{ code, message }` — `code`
 *   should be a string; old oapi: HTTP 200 `{ errcode: code, errmsg: message }` — `code` should be a number.
 * - `applied: true` on the last two: DingTalk did the work (message sent, group created, card delivered) but the caller
 *   gets the error instead, as when the answer is lost.
 */
export type DingTalkFailure =
  /** No answer ever comes (the caller's deadline ends it); with `applied`, DingTalk did the work first. */
  | { hang: true; applied?: boolean }
  | { rateLimited: true; scope?: 'app' | 'global' | 'ip' }
  | { status: 500; applied?: boolean }
  | { code: string | number; message?: string; status?: number; applied?: boolean };

/** A user in the fake organisation's directory (oapi "查询用户详情" fields). */
export interface DingTalkUser {
  /** The org-wide `userid` (staffId) every robot/card/group API here uses. */
  userid: string;
  /** Display name ("查询用户详情" `name`). */
  name: string;
  /** As the directory holds it; `getbymobile` ignores `+86`, spaces and dashes. */
  mobile?: string;
  /** Org-scoped unionid ("查询用户详情" `unionid`; the fake reports `union_<userid>` when unset). */
  unionid?: string;
  /** Job title (`title`). */
  title?: string;
  /** Email (`email`, returned only with the contact-info permission on the real platform). */
  email?: string;
  /** Employee number (`job_number`). */
  job_number?: string;
  /** Whether the user activated DingTalk (default true). */
  active?: boolean;
}

/** A group chat (a scene group created here, or a pre-existing group seeded with {@link FakeDingTalk.addGroup}). */
export interface DingTalkGroup {
  /** `cid…==`: the id the new API and the cards use. */
  openConversationId: string;
  /** `chat…`: the legacy id scene-group create also returns. */
  chatId: string;
  /** Group name (scene groups: ≤ 30 characters, "创建群"). */
  title: string;
  /** Member userids (the owner included). */
  members: Set<string>;
  /** Owner userid (`owner_user_id` of the create call). */
  ownerUserId?: string;
  /** Group admins (`subadmin_ids`). */
  subadminIds: Set<string>;
  /** Whether our robot is in the group (scene groups from a template get the template's robot automatically). */
  botIsMember: boolean;
  /** `scene` for groups created by `scenegroup.create`; `seed` for `addGroup`. */
  kind: 'scene' | 'seed';
  /** The scene-group template it was created from (`template_id`). */
  templateId?: string;
  /** The `uuid` it was created with. */
  uuid?: string;
  /** The create call's other settings (`mention_all_authority`, `searchable`, …), as sent. */
  settings: Record<string, unknown>;
  /** Milliseconds. */
  createdAt: number;
}

/** One version of a card's public data. */
export interface DingTalkCardVersion {
  /** The card's full `cardParamMap` after this create/update (merged by key when `updateCardDataByKey`). */
  cardParamMap: Record<string, string>;
  /** What the call sent (`cardData.cardParamMap`; `{}` when it only changed private data). */
  sent: Record<string, string>;
  /** Which call produced this version. */
  via: 'card.instances.createAndDeliver' | 'card.instances.update';
  /** `cardUpdateOptions.updateCardDataByKey` of an update (false = the sent map replaced the data). */
  byKey: boolean;
  /** Per-user private data after this version (userid → cardParamMap). */
  privateData: Record<string, Record<string, string>>;
  /** Milliseconds. */
  at: number;
}

/** Where a card went (one entry per `openSpaceId` space), as `deliverResults` reports it. */
export interface DingTalkDeliverResult {
  /** `IM_GROUP`, `IM_ROBOT`, `IM_SINGLE`, `ONE_BOX`, … ("创建并投放卡片" 场域类型). */
  spaceType: string;
  /** openConversationId (groups) or userid (IM_ROBOT). */
  spaceId: string;
  /** Whether DingTalk delivered the card there. */
  success: boolean;
  /** IM spaces: the message's `processQueryKey`. */
  carrierId?: string;
  /** Why delivery failed (free text; the real wording is not documented). */
  errorMsg?: string;
}

/** An interactive card instance ("创建并投放卡片"). */
export interface DingTalkCard {
  /** The caller's id of the card ("一个 outTrackId 唯一标识一张卡片"; a second create with it is `param.cardAlreadyExist`). */
  outTrackId: string;
  /** The card builder template id (`cardTemplateId`). */
  cardTemplateId: string;
  /** As sent, e.g. `dtv1.card//IM_GROUP.cid…==`. */
  openSpaceId: string;
  /** Parsed `openSpaceId`: `[{ spaceType: 'IM_GROUP', spaceId: 'cid…' }]`. */
  spaces: { spaceType: string; spaceId: string }[];
  /** `STREAM` or `HTTP` (where card callbacks go). */
  callbackType?: string;
  /** HTTP callbacks: the route key registered with "注册卡片回调地址". */
  callbackRouteKey?: string;
  /** Current public data. */
  cardParamMap: Record<string, string>;
  /** Current private data (userid → cardParamMap). */
  privateData: Record<string, Record<string, string>>;
  /** Every version in order: `history[0]` is the create, later entries are updates. */
  history: DingTalkCardVersion[];
  /** One entry per space, as the create answered. */
  deliverResults: DingTalkDeliverResult[];
  /** The create request as sent (open space / deliver models, `userId`, `userIdType`, …). */
  request: any;
  /** Milliseconds. */
  createdAt: number;
  /** Milliseconds (last create/update). */
  updatedAt: number;
}

/** A message the robot put somewhere, in send order (what {@link FakeDingTalk.messagesTo} returns). */
export interface DingTalkMessage {
  /** Increasing per fake (order across conversations). */
  seq: number;
  /** The endpoint that put it there. */
  via: 'robot.groupMessages.send' | 'robot.oToMessages.batchSend' | 'robot.sendBySession' | 'card.instances.createAndDeliver';
  /** Group (or session) conversation the message went to. */
  conversationId?: string;
  /** 1:1 recipient (batchSend, IM_ROBOT cards, sessions tagged with a user). */
  userId?: string;
  /** Robot sends: `sampleText`, `sampleMarkdown`, …; session replies: their `msgtype`; cards: undefined. */
  msgKey?: string;
  /** Robot sends: `msgParam` as sent (a JSON string). */
  msgParam?: string;
  /** Robot sends: `msgParam` parsed; session replies: the `text` / `markdown` / `actionCard` / `link` object. */
  params?: any;
  /** Session replies: the whole body as sent (with `at`). */
  body?: any;
  /** Convenience: the readable text (`content` of text messages, `text` of markdown / action cards). */
  text?: string;
  /** Cards: the card instance (live object: later updates show in it). */
  card?: DingTalkCard;
  /** The encrypted message id DingTalk answers (robot sends; IM card deliveries as `carrierId`). */
  processQueryKey?: string;
  /** The robotCode the send used. */
  robotCode?: string;
  /** Milliseconds. */
  at: number;
}

/** A session webhook handed out by {@link FakeDingTalk.sessionWebhook}. */
export interface DingTalkSession {
  /** The `session` query value. */
  session: string;
  /** The full URL to put in an injected robot message's `sessionWebhook`. */
  url: string;
  /** The conversation (`conversationId` of the received message) replies go to. */
  conversationId: string;
  /** Tag for 1:1 sessions: replies also show in `messagesTo(userId)`. */
  userId?: string;
  /** Milliseconds; the injected message's `sessionWebhookExpiredTime`. After it, replies are refused. */
  expiresAt: number;
  /** Every accepted reply body, in order. */
  received: any[];
}

/** An issued access token (`oauth2/accessToken` and `gettoken` hand out the same kind, valid on both bases). */
export interface DingTalkToken {
  /** The token string (32 hex characters, like DingTalk's). */
  token: string;
  /** The app it belongs to. */
  appKey: string;
  /** Milliseconds. */
  issuedAt: number;
  /** Milliseconds; refused (InvalidAuthentication / 88+40014) after this. */
  expiresAt: number;
}

/** Handle on a running fake DingTalk. */
export interface FakeDingTalk {
  /** `http://127.0.0.1:PORT`: both bases. */
  url: string;
  /** Same as `url`: pass as DINGTALK_API_URL. */
  apiUrl: string;
  /** Same as `url`: pass as DINGTALK_OAPI_URL. */
  oapiUrl: string;
  /** Default app's AppKey (Client ID). */
  appKey: string;
  /** Default app's AppSecret. */
  appSecret: string;
  /** Our robot's robotCode (for an internal app's robot DingTalk uses the AppKey; default = `appKey`). */
  robotCode: string;
  /** The organisation's corpId (`ding…`). */
  corpId: string;
  /** appKey → appSecret accepted by the token endpoints. Mutable. */
  apps: Map<string, string>;
  /**
   * Lifetime of tokens in seconds (DingTalk: 7200). "有效期内重复获取会返回相同结果并自动续期": asking again while the
   * app's token is valid returns the same token and extends it. Mutable.
   */
  tokenTtlSeconds: number;
  /** Issued tokens by token. */
  tokens: Map<string, DingTalkToken>;
  /** Every call in order (including failed and injected-failure calls). */
  calls: DingTalkCall[];
  /** Calls to one endpoint, by name (`robot.groupMessages.send`) or exact path. */
  callsTo(nameOrPath: string): DingTalkCall[];
  /** Every message the robot put anywhere, in order (robot sends, session replies, delivered cards). */
  messages: DingTalkMessage[];
  /** Messages in a group / session conversation (`cid…`) or to a user (1:1), oldest first. */
  messagesTo(conversationIdOrUserId: string): DingTalkMessage[];
  /** outTrackId → card instance (with `history`). */
  cards: Map<string, DingTalkCard>;
  /** openConversationId → group. */
  groups: Map<string, DingTalkGroup>;
  /** userid → user (the directory; empty when not given, i.e. non-strict). */
  users: Map<string, DingTalkUser>;
  /** session → session webhook. */
  sessions: Map<string, DingTalkSession>;
  /** Card template ids that exist (empty = every id exists). Starts as `opts.templates`. */
  templates: Set<string>;
  /** Scene-group template ids that exist (empty = every id exists). Starts as `opts.groupTemplates`. */
  groupTemplates: Set<string>;
  /** Userids batchSend reports in `flowControlledStaffIdList` (and does not deliver to). */
  flowControlledUsers: Set<string>;
  /**
   * Robot messages per group per minute before DingTalk throttles (`null` = no limit, the default). DingTalk documents 20
   * per minute for webhook robots, "超过20条，会限流10分钟". Counts `robot.groupMessages.send` and session replies.
   * Over it: 400 `send.too.fast` / errcode 410100, and the group stays locked for `groupSendLockMs`. Mutable.
   */
  groupSendLimitPerMinute: number | null;
  /** How long a group stays throttled after the limit was hit (default 10 min). Mutable. */
  groupSendLockMs: number;
  /** Delay, in ms, before every answer is sent (the call still runs and is recorded on arrival). Mutable; `reset()` leaves it. */
  latencyMs: number;
  /** Make the next `times` (default 1) calls to an endpoint (name or exact path) fail (see {@link DingTalkFailure}). */
  failNext(nameOrPath: string, failure: DingTalkFailure, times?: number): void;
  /** Register a card template id as existing (createAndDeliver refuses others with `param.templateNotExist`). */
  addTemplate(id: string): void;
  /** Register a scene-group template id as existing (scenegroup.create refuses others with 665036). */
  addGroupTemplate(id: string): void;
  /** Seed a pre-existing group (e.g. the bot's queue groups). Our robot is in it unless `botIsMember: false`. */
  addGroup(g: { openConversationId?: string; title?: string; members?: Iterable<string>; botIsMember?: boolean }): DingTalkGroup;
  /** Add a user to the directory (making it strict from then on). */
  addUser(u: DingTalkUser): DingTalkUser;
  /**
   * A `sessionWebhook` URL on this fake for an injected robot message in `conversationId` (DingTalk: valid about 90 min,
   * `sessionWebhookExpiredTime`). `userId` tags 1:1 sessions; `expiresInMs` defaults to 90 min.
   */
  sessionWebhook(conversationId: string, opts?: { expiresInMs?: number; userId?: string }): string;
  /** Make every issued token invalid now (as after expiry): calls with them get InvalidAuthentication / 88+40014. */
  expireTokens(): void;
  /** Wait until `predicate(fake)` is true (polls every 10 ms; default timeout 5 s; throws listing the calls seen). */
  waitFor(predicate: (f: FakeDingTalk) => boolean, timeoutMs?: number): Promise<void>;
  /**
   * Forget calls, messages, cards, groups, sessions, failures, uuids and send counters; restore the directory, apps,
   * templates, `flowControlledUsers`, `tokenTtlSeconds` and `groupSendLimitPerMinute` from the options. Issued tokens
   * stay valid (clients keep their cached tokens); `latencyMs` stays as set.
   */
  reset(): void;
  /** Stop the server (closing keep-alive connections). */
  close(): Promise<void>;
}

/** Options for {@link createFakeDingTalk}. */
export interface FakeDingTalkOptions {
  /** Default `dingfirebellkey`. */
  appKey?: string;
  /** Default `firebell-dingtalk-secret`. */
  appSecret?: string;
  /** More apps the token endpoints accept (appKey → secret). */
  apps?: Record<string, string>;
  /** Default = appKey. */
  robotCode?: string;
  /** Default `dingfirebellcorp`. */
  corpId?: string;
  /** Initial {@link FakeDingTalk.tokenTtlSeconds} (default 7200). */
  tokenTtlSeconds?: number;
  /** Directory. When given it is authoritative: unknown userids are refused. */
  users?: DingTalkUser[];
  /** Card template ids that exist. Default: every id exists. */
  templates?: Iterable<string>;
  /** Scene-group template ids that exist. Default: every id exists. */
  groupTemplates?: Iterable<string>;
  /** Initial {@link FakeDingTalk.groupSendLimitPerMinute} (default null: no limit). */
  groupSendLimitPerMinute?: number | null;
  /** Initial {@link FakeDingTalk.flowControlledUsers}. */
  flowControlledUsers?: Iterable<string>;
  /** Initial {@link FakeDingTalk.latencyMs}. */
  latencyMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Limits and codes (open.dingtalk.com docs)
// ---------------------------------------------------------------------------------------------

/** msgKeys of "消息发送与接收类型" → required msgParam fields and the error each missing one gets (robot send docs). */
const MSG_KEYS: Record<string, [field: string, code: string, message: string][]> = {
  sampleText: [['content', 'miss.param.contentOfText', '需要text->content属性']],
  sampleMarkdown: [
    ['title', 'miss.param.markdownTotitle', '需要markdown->title属性'],
    ['text', 'miss.param.markdownTotext', '需要markdown->text属性'],
  ],
  sampleImageMsg: [['photoURL', 'miss.param.photoTophotoUrl', '需要photo->photoURL属性']],
  sampleLink: [
    ['text', 'miss.param.textOfLink', '需要link->text属性'],
    ['title', 'miss.param.titleOfLink', '需要link->title属性'],
    ['messageUrl', 'miss.param.messageUrlOfLink', '需要link->messageUrl属性'],
  ],
  sampleActionCard: [
    ['title', 'miss.param.actionCardTotitle', '需要actionCard->title属性'],
    ['text', 'miss.param.actionCardTotext', '需要actionCard->text属性'],
    ['singleTitle', 'miss.param.actionCardTosingleTitle', '需要actionCard->singleTitle属性'],
    ['singleURL', 'miss.param.actionCardTosingleUrl', '需要actionCard->singleURL属性'],
  ],
  sampleActionCard2: [
    ['title', 'miss.param.actionCardTotitle', '需要actionCard->title属性'],
    ['text', 'miss.param.actionCardTotext', '需要actionCard->text属性'],
  ],
  sampleActionCard3: [
    ['title', 'miss.param.actionCardTotitle', '需要actionCard->title属性'],
    ['text', 'miss.param.actionCardTotext', '需要actionCard->text属性'],
  ],
  sampleActionCard4: [
    ['title', 'miss.param.actionCardTotitle', '需要actionCard->title属性'],
    ['text', 'miss.param.actionCardTotext', '需要actionCard->text属性'],
  ],
  sampleActionCard5: [
    ['title', 'miss.param.actionCardTotitle', '需要actionCard->title属性'],
    ['text', 'miss.param.actionCardTotext', '需要actionCard->text属性'],
  ],
  sampleActionCard6: [
    ['title', 'miss.param.actionCardTotitle', '需要actionCard->title属性'],
    ['text', 'miss.param.actionCardTotext', '需要actionCard->text属性'],
  ],
  sampleAudio: [['mediaId', 'miss.param.audio', '消息内容不合法，需要audio属性']],
  sampleFile: [['mediaId', 'miss.param.file', '消息内容不合法，需要file属性']],
  sampleVideo: [['videoMediaId', 'miss.param.video', '消息内容不合法，需要video->videoMediaId属性']],
};
/** "机器人发送群聊消息": msgParam "长度限制 15000 字节以内". */
const MSG_PARAM_MAX_BYTES = 15000;
/** "批量发送人与机器人会话中机器人消息": userIds "每次最多传20个" (its error table says 100; the request table wins here). */
const BATCH_SEND_MAX_USERS = 20;
/** "创建并投放卡片": cardParamMap key ≤ 100 B, value ≤ 1 KB. */
const CARD_KEY_MAX_BYTES = 100;
const CARD_VALUE_MAX_BYTES = 1024;
/** "创建并投放卡片": openSpaceId prefix. */
const OPEN_SPACE_PREFIX = 'dtv1.card//';
const SPACE_TYPES = new Set(['IM_GROUP', 'IM_ROBOT', 'IM_SINGLE', 'ONE_BOX', 'CO_FEED', 'TOP']);
/** Scene group "创建群": title "最长不超过30字符"; user_ids "最多传999个". "新增群成员": ≤ 100 per call, groups ≤ 1000 members. */
const SCENE_TITLE_MAX = 30;
const SCENE_CREATE_MAX_USERS = 999;
const SCENE_ADD_MAX_USERS = 100;
const GROUP_MAX_MEMBERS = 1000;
/** A received message's `sessionWebhookExpiredTime` is 90 min after `createAt` in the "机器人接收消息" examples. */
const SESSION_TTL_MS = 90 * 60 * 1000;
/** "自定义机器人发送群消息": "超过20条，会限流10分钟". */
const GROUP_SEND_LOCK_MS = 10 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

type Base = 'api' | 'oapi';
type Reply = { status: number; body: any; headers?: Record<string, string> };
type Ctx = { query: Record<string, string>; body: any; token: string | null; appKey: string };
type Route = {
  method: string;
  path: string;
  name: DingTalkCallName;
  base: Base;
  /** api: the header token; oapi: `access_token`; none: no token (token endpoints, sendBySession). */
  auth: 'api' | 'oapi' | 'none';
  handler: (ctx: Ctx) => Reply;
};

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

function parseJson(s: string): { ok: true; value: any } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch {
    return { ok: false };
  }
}

function normMobile(m: string): string {
  return m.replace(/^\+?86-?/, '').replace(/[\s-]/g, '');
}

/** A comma-separated userid list (the oapi scene-group APIs take strings like `"a,b"`). */
function splitIds(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/** A `Map<String, String>` field: every value must be a string (DingTalk: "属性字段只支持 String 类型"). */
function isStringMap(v: unknown): v is Record<string, string> {
  return isObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

function describeCall(c: DingTalkCall, i: number): string {
  const args = { ...c.query, ...(isObject(c.body) ? c.body : {}) };
  // Credentials stay out of failure reports.
  for (const k of ['access_token', 'appSecret', 'appsecret']) if (k in args) (args as Record<string, unknown>)[k] = '***';
  let a = JSON.stringify(args);
  if (a.length > 300) a = `${a.slice(0, 300)}…`;
  let r: string;
  if (c.base === 'api') r = c.status === 200 ? 'ok' : `HTTP ${c.status} code=${c.response?.code ?? '-'}`;
  else r = c.status === 200 && c.response?.errcode === 0 ? 'ok' : `HTTP ${c.status} errcode=${c.response?.errcode ?? '-'}${c.response?.sub_code ? `/${c.response.sub_code}` : ''}`;
  return `  ${i + 1}. ${c.method} ${c.name} ${a} → ${r}${c.appliedResponse !== undefined ? ' (applied)' : ''}`;
}

// ---------------------------------------------------------------------------------------------
// the fake
// ---------------------------------------------------------------------------------------------

/** Start a fake DingTalk (api + oapi) server on 127.0.0.1 with a random port. */
export async function createFakeDingTalk(opts: FakeDingTalkOptions = {}): Promise<FakeDingTalk> {
  const appKey = opts.appKey ?? 'dingfirebellkey';
  const appSecret = opts.appSecret ?? 'firebell-dingtalk-secret';
  const robotCode = opts.robotCode ?? appKey;
  const corpId = opts.corpId ?? 'dingfirebellcorp';

  let seq = 0; // message order (never reset)
  const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
  const requestId = (): string => randomUUID().toUpperCase();
  const oapiRequestId = (): string => randomBytes(9).toString('base64').replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 12).padEnd(12, '0');
  const processQueryKey = (): string => randomBytes(32).toString('base64');

  const failures = new Map<string, { failure: DingTalkFailure; left: number }[]>();
  const delayed = new Set<NodeJS.Timeout>();
  const sceneUuids = new Map<string, string>(); // uuid → openConversationId
  const currentToken = new Map<string, string>(); // appKey → latest token
  const groupSends = new Map<string, number[]>(); // cid → send times in the last minute
  const groupLocks = new Map<string, number>(); // cid → locked until
  let strictUsers = opts.users !== undefined;

  const seedApps = (m: Map<string, string>): void => {
    m.clear();
    m.set(appKey, appSecret);
    for (const [k, v] of Object.entries(opts.apps ?? {})) m.set(k, v);
  };
  const seedUsers = (m: Map<string, DingTalkUser>): void => {
    m.clear();
    for (const u of opts.users ?? []) m.set(u.userid, { ...u });
  };
  const seedSet = (s: Set<string>, from: Iterable<string> | undefined): void => {
    s.clear();
    for (const x of from ?? []) s.add(x);
  };

  const fake: FakeDingTalk = {
    url: '',
    apiUrl: '',
    oapiUrl: '',
    appKey,
    appSecret,
    robotCode,
    corpId,
    apps: new Map(),
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 7200,
    tokens: new Map(),
    calls: [],
    callsTo: (x) => fake.calls.filter((c) => c.name === x || c.path === x),
    messages: [],
    messagesTo: (id) => fake.messages.filter((m) => m.conversationId === id || m.userId === id),
    cards: new Map(),
    groups: new Map(),
    users: new Map(),
    sessions: new Map(),
    templates: new Set(opts.templates ?? []),
    groupTemplates: new Set(opts.groupTemplates ?? []),
    flowControlledUsers: new Set(opts.flowControlledUsers ?? []),
    groupSendLimitPerMinute: opts.groupSendLimitPerMinute ?? null,
    groupSendLockMs: GROUP_SEND_LOCK_MS,
    latencyMs: opts.latencyMs ?? 0,
    failNext(nameOrPath, failure, times = 1) {
      const q = failures.get(nameOrPath) ?? [];
      q.push({ failure, left: times });
      failures.set(nameOrPath, q);
    },
    addTemplate(id) {
      fake.templates.add(id);
    },
    addGroupTemplate(id) {
      fake.groupTemplates.add(id);
    },
    addGroup(g) {
      const openConversationId = g.openConversationId ?? newCid();
      const group: DingTalkGroup = {
        openConversationId,
        chatId: `chat${hex(16)}`,
        title: g.title ?? openConversationId,
        members: new Set(g.members ?? []),
        subadminIds: new Set(),
        botIsMember: g.botIsMember !== false,
        kind: 'seed',
        settings: {},
        createdAt: Date.now(),
      };
      fake.groups.set(openConversationId, group);
      return group;
    },
    addUser(u) {
      strictUsers = true;
      fake.users.set(u.userid, { ...u });
      return fake.users.get(u.userid) as DingTalkUser;
    },
    sessionWebhook(conversationId, o = {}) {
      const session = hex(16);
      const url = `${fake.url}/robot/sendBySession?session=${session}`;
      fake.sessions.set(session, {
        session,
        url,
        conversationId,
        ...(o.userId !== undefined ? { userId: o.userId } : {}),
        expiresAt: Date.now() + (o.expiresInMs ?? SESSION_TTL_MS),
        received: [],
      });
      return url;
    },
    expireTokens() {
      const now = Date.now();
      for (const t of fake.tokens.values()) t.expiresAt = Math.min(t.expiresAt, now - 1);
    },
    async waitFor(predicate, timeoutMs = 5000) {
      await pollUntil(() => predicate(fake), timeoutMs, 'FakeDingTalk', () => {
        const lines = fake.calls.map(describeCall);
        return `DingTalk API calls seen (${lines.length}):\n${lines.join('\n') || '  (none)'}`;
      });
    },
    reset() {
      fake.calls.length = 0;
      fake.messages.length = 0;
      fake.cards.clear();
      fake.groups.clear();
      fake.sessions.clear();
      failures.clear();
      sceneUuids.clear();
      groupSends.clear();
      groupLocks.clear();
      seedUsers(fake.users);
      strictUsers = opts.users !== undefined;
      seedApps(fake.apps);
      seedSet(fake.templates, opts.templates);
      seedSet(fake.groupTemplates, opts.groupTemplates);
      seedSet(fake.flowControlledUsers, opts.flowControlledUsers);
      fake.tokenTtlSeconds = opts.tokenTtlSeconds ?? 7200;
      fake.groupSendLimitPerMinute = opts.groupSendLimitPerMinute ?? null;
      fake.groupSendLockMs = GROUP_SEND_LOCK_MS;
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

  function newCid(): string {
    return `cid${randomBytes(16).toString('base64')}`;
  }

  // -------------------------------------------------------------------------------------------
  // answers
  // -------------------------------------------------------------------------------------------
  /** New API error: HTTP 4xx/5xx `{ code, message, requestid }`. */
  const apiError = (code: string, message: string = code, status = 400): Reply => ({ status, body: { code, message, requestid: requestId() } });
  /** Old oapi success: HTTP 200 `{ errcode: 0, errmsg: 'ok', ...fields, request_id }`. */
  const oapiOk = (fields: Record<string, unknown> = {}): Reply => ({ status: 200, body: { errcode: 0, errmsg: 'ok', ...fields, request_id: oapiRequestId() } });
  /** Old oapi error: HTTP 200 `{ errcode, errmsg, request_id }`. */
  const oapiError = (errcode: number, errmsg: string, status = 200): Reply => ({ status, body: { errcode, errmsg, request_id: oapiRequestId() } });
  /** Old oapi auth error, wrapped in 88 ("全局错误码": "关注返回结果里的subCode和subMsg"; the wire uses sub_code / sub_msg). */
  const oapi88 = (subCode: string, subMsg: string): Reply => ({
    status: 200,
    body: { errcode: 88, sub_code: subCode, sub_msg: subMsg, errmsg: `ding talk error[subcode=${subCode},submsg=${subMsg}]`, request_id: oapiRequestId() },
  });
  /** The Alibaba gateway's answer for a missing required body field (seen as `Missingbody` "body is mandatory for this action."). */
  const apiMissing = (field: string): Reply => apiError(`Missing${field}`, `${field} is mandatory for this action.`);

  // -------------------------------------------------------------------------------------------
  // state helpers
  // -------------------------------------------------------------------------------------------
  const userKnown = (id: string): boolean => !strictUsers || fake.users.has(id);

  const record = (m: Omit<DingTalkMessage, 'seq' | 'at'>): DingTalkMessage => {
    const msg: DingTalkMessage = { ...m, seq: ++seq, at: Date.now() };
    fake.messages.push(msg);
    return msg;
  };

  const readableText = (params: any): string | undefined => {
    if (!isObject(params)) return undefined;
    if (typeof params.content === 'string') return params.content;
    if (typeof params.text === 'string') return params.text;
    return undefined;
  };

  /**
   * Per-group send limit: true when this send may go out (and counts it), false when throttled. A group that went over the
   * limit stays locked for `groupSendLockMs`.
   */
  const takeGroupSend = (cid: string): boolean => {
    const limit = fake.groupSendLimitPerMinute;
    if (limit === null) return true;
    const now = Date.now();
    const lockedUntil = groupLocks.get(cid);
    if (lockedUntil !== undefined && lockedUntil > now) return false;
    const recent = (groupSends.get(cid) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= limit) {
      groupLocks.set(cid, now + fake.groupSendLockMs);
      groupSends.set(cid, recent);
      return false;
    }
    recent.push(now);
    groupSends.set(cid, recent);
    return true;
  };

  /** Validate a robot message (`msgKey` + `msgParam`) like "机器人发送群聊消息"; returns the parsed params or an error. */
  const checkRobotMessage = (body: any): { params: any } | { error: Reply } => {
    if (!nonEmptyString(body?.msgKey)) return { error: apiError('invalidParameter.msgKey.empty', '缺少msgKey') };
    const required = MSG_KEYS[body.msgKey];
    if (!required) return { error: apiError('invalidParameter.msgKey.invalid', 'msgKey无效') };
    if (typeof body.msgParam !== 'string') return { error: apiError('invalidParameter.msgParam.invalid', 'msgParam必须是json格式') };
    if (Buffer.byteLength(body.msgParam, 'utf8') > MSG_PARAM_MAX_BYTES) return { error: apiError('invalidParameter.msgParam.tooLong', '消息内容太长') };
    const p = parseJson(body.msgParam);
    if (!p.ok || !isObject(p.value)) return { error: apiError('invalidParameter.msgParam.invalid', 'msgParam必须是json格式') };
    for (const [field, code, message] of required) {
      if (!nonEmptyString(p.value[field])) return { error: apiError(code, message) };
    }
    return { params: p.value };
  };

  // -------------------------------------------------------------------------------------------
  // endpoints
  // -------------------------------------------------------------------------------------------
  const routes: Route[] = [];
  const route = (method: string, path: string, name: DingTalkCallName, auth: Route['auth'], handler: (ctx: Ctx) => Reply): void => {
    routes.push({ method, path, name, base: path.startsWith('/v1.0/') ? 'api' : 'oapi', auth, handler });
  };

  /** Issue (or renew) the app's token: "有效期内重复获取会返回相同结果并自动续期，过期后获取会返回新的access_token". */
  const issueToken = (key: string): DingTalkToken => {
    const now = Date.now();
    const cur = fake.tokens.get(currentToken.get(key) ?? '');
    if (cur && cur.expiresAt > now) {
      cur.expiresAt = now + fake.tokenTtlSeconds * 1000;
      return cur;
    }
    const t: DingTalkToken = { token: hex(16), appKey: key, issuedAt: now, expiresAt: now + fake.tokenTtlSeconds * 1000 };
    fake.tokens.set(t.token, t);
    currentToken.set(key, t.token);
    return t;
  };

  // "获取企业内部应用的accessToken": POST { appKey, appSecret } → { accessToken, expireIn }; wrong → 400 invalidClientIdOrSecret.
  route('POST', '/v1.0/oauth2/accessToken', 'oauth2.accessToken', 'none', ({ body }) => {
    if (!nonEmptyString(body?.appKey)) return apiMissing('appKey');
    if (!nonEmptyString(body?.appSecret)) return apiMissing('appSecret');
    if (fake.apps.get(body.appKey) !== body.appSecret) return apiError('invalidClientIdOrSecret', '无效的clientId或者clientSecret');
    const t = issueToken(body.appKey);
    return { status: 200, body: { accessToken: t.token, expireIn: fake.tokenTtlSeconds } };
  });

  // "获取企业内部应用的access_token" (legacy): GET ?appkey=&appsecret= → { errcode: 0, access_token, expires_in }. Probed
  // errors: missing → 40035 "缺少参数 corpid or appkey"; wrong → 40096 "不合法的appKey或appSecret" (not wrapped in 88).
  route('GET', '/gettoken', 'gettoken', 'none', ({ query }) => {
    if (!nonEmptyString(query.appkey) || !nonEmptyString(query.appsecret)) return oapiError(40035, '缺少参数 corpid or appkey');
    if (fake.apps.get(query.appkey) !== query.appsecret) return oapiError(40096, '不合法的appKey或appSecret');
    const t = issueToken(query.appkey);
    return { status: 200, body: { errcode: 0, access_token: t.token, errmsg: 'ok', expires_in: fake.tokenTtlSeconds } };
  });

  // "机器人发送群聊消息": { robotCode, openConversationId, msgKey, msgParam } → { processQueryKey }. The robot must be in the group.
  route('POST', '/v1.0/robot/groupMessages/send', 'robot.groupMessages.send', 'api', ({ body }) => {
    if (!nonEmptyString(body?.robotCode)) return apiError('invalidParameter.robotCode.missing', '缺少robotCode');
    if (!nonEmptyString(body?.openConversationId)) return apiError('miss.openConversationId', '缺少openConversationId');
    const msg = checkRobotMessage(body);
    if ('error' in msg) return msg.error;
    if (body.robotCode !== robotCode) return apiError('invalidParameter.robotCode.auth', '此应用appkey和机器人robotCode不匹配，请使用机器人应用的appkey');
    const group = fake.groups.get(body.openConversationId);
    if (!group) return apiError('invalid.openConversationId', '无效的openConversationId');
    if (!group.botIsMember) return apiError('resource.not.found', '机器人不存在');
    if (!takeGroupSend(group.openConversationId)) return apiError('send.too.fast', '限流错误');
    const key = processQueryKey();
    record({
      via: 'robot.groupMessages.send',
      conversationId: group.openConversationId,
      msgKey: body.msgKey,
      msgParam: body.msgParam,
      params: msg.params,
      ...(readableText(msg.params) !== undefined ? { text: readableText(msg.params) as string } : {}),
      processQueryKey: key,
      robotCode: body.robotCode,
    });
    return { status: 200, body: { processQueryKey: key } };
  });

  // "批量发送人与机器人会话中机器人消息": { robotCode, userIds[≤20], msgKey, msgParam } →
  // { processQueryKey, invalidStaffIdList, flowControlledStaffIdList }.
  route('POST', '/v1.0/robot/oToMessages/batchSend', 'robot.oToMessages.batchSend', 'api', ({ body }) => {
    if (!nonEmptyString(body?.robotCode)) return apiError('invalidParameter.robotCode.empty', '机器人robotCode无效');
    if (!Array.isArray(body?.userIds) || body.userIds.length === 0) return apiError('invalidParameter.userIds.empty', '用户userId列表为空');
    if (body.userIds.length > BATCH_SEND_MAX_USERS) return apiError('invalidParameter.userIds.overMax', '用户userId列表超过最大限制');
    if (!body.userIds.every((u: unknown) => nonEmptyString(u))) return apiError('invalidParameter.param.invalid', '参数不合法，请检查是否有参数为空');
    const msg = checkRobotMessage(body);
    if ('error' in msg) return msg.error;
    if (body.robotCode !== robotCode) return apiError('invalidParameter.robotCode.notExsit', '机器人不存在，请检查企业内是否安装了robotCode对应的机器人');
    const key = processQueryKey();
    const invalid: string[] = [];
    const flowControlled: string[] = [];
    for (const userId of body.userIds as string[]) {
      if (!userKnown(userId)) invalid.push(userId);
      else if (fake.flowControlledUsers.has(userId)) flowControlled.push(userId);
      else {
        record({
          via: 'robot.oToMessages.batchSend',
          userId,
          msgKey: body.msgKey,
          msgParam: body.msgParam,
          params: msg.params,
          ...(readableText(msg.params) !== undefined ? { text: readableText(msg.params) as string } : {}),
          processQueryKey: key,
          robotCode: body.robotCode,
        });
      }
    }
    return { status: 200, body: { processQueryKey: key, invalidStaffIdList: invalid, flowControlledStaffIdList: flowControlled } };
  });

  // sessionWebhook replies ("机器人回复/发送消息"): webhook-robot bodies { msgtype, text | markdown | actionCard | link |
  // feedCard, at? } → { errcode: 0, errmsg: 'ok' }. Error codes as "自定义机器人发送群消息": 40035 missing content, 400105
  // unsupported msgtype, 410100 too fast. The answer for an unknown / expired session is not documented: 300005.
  route('POST', '/robot/sendBySession', 'robot.sendBySession', 'none', ({ query, body }) => {
    const s = fake.sessions.get(query.session ?? '');
    if (!s) return oapiError(300005, 'token is not exist');
    if (s.expiresAt <= Date.now()) return oapiError(300005, 'session is expired');
    const msgtype = body?.msgtype;
    if (!nonEmptyString(msgtype)) return oapiError(40035, '缺少参数 json');
    const need: Record<string, string[]> = {
      text: ['content'],
      markdown: ['title', 'text'],
      actionCard: ['title', 'text'],
      link: ['title', 'text', 'messageUrl'],
      feedCard: [],
      empty: [],
    };
    const fields = need[msgtype];
    if (!fields) return oapiError(400105, '不支持的消息类型');
    const content = msgtype === 'empty' ? {} : body[msgtype];
    if (msgtype !== 'empty' && !isObject(content)) return oapiError(40035, '缺少参数 json');
    if (!fields.every((f) => nonEmptyString(content[f]))) return oapiError(40035, '缺少参数 json');
    if (msgtype === 'actionCard' && !(nonEmptyString(content.singleURL) || (Array.isArray(content.btns) && content.btns.length > 0))) {
      return oapiError(40035, '缺少参数 json');
    }
    if (msgtype === 'feedCard' && !(Array.isArray(content.links) && content.links.length > 0)) return oapiError(40035, '缺少参数 json');
    if (msgtype !== 'empty' && !takeGroupSend(s.conversationId)) return oapiError(410100, '发送速度太快而限流');
    s.received.push(body);
    if (msgtype !== 'empty') {
      record({
        via: 'robot.sendBySession',
        conversationId: s.conversationId,
        ...(s.userId !== undefined ? { userId: s.userId } : {}),
        msgKey: msgtype,
        params: content,
        body,
        ...(readableText(content) !== undefined ? { text: readableText(content) as string } : {}),
      });
    }
    return { status: 200, body: { errcode: 0, errmsg: 'ok' } };
  });

  /** Parse `openSpaceId` ("dtv1.card//spaceType1.spaceId1;spaceType2.spaceId2"); null when it does not fit. */
  const parseOpenSpaceId = (v: string): { spaceType: string; spaceId: string }[] | null => {
    if (!v.startsWith(OPEN_SPACE_PREFIX)) return null;
    const items = v.slice(OPEN_SPACE_PREFIX.length).split(';').filter((x) => x !== '');
    if (items.length === 0) return null;
    const out: { spaceType: string; spaceId: string }[] = [];
    for (const item of items) {
      const dot = item.indexOf('.');
      if (dot <= 0 || dot === item.length - 1) return null;
      const spaceType = item.slice(0, dot).toUpperCase();
      if (!SPACE_TYPES.has(spaceType)) return null;
      out.push({ spaceType, spaceId: item.slice(dot + 1) });
    }
    return out;
  };

  /** Check a `cardParamMap` (strings only, key ≤ 100 B, value ≤ 1 KB); null when fine. */
  const checkParamMap = (m: unknown): Reply | null => {
    if (m === undefined) return null;
    if (!isStringMap(m)) return apiError('param.invalid');
    for (const [k, v] of Object.entries(m)) {
      if (Buffer.byteLength(k, 'utf8') > CARD_KEY_MAX_BYTES || Buffer.byteLength(v, 'utf8') > CARD_VALUE_MAX_BYTES) return apiError('param.invalid');
    }
    return null;
  };

  /** Check `privateData` ({ userId: { cardParamMap } }); null when fine. */
  const checkPrivateData = (p: unknown): Reply | null => {
    if (p === undefined) return null;
    if (!isObject(p)) return apiError('param.invalid');
    for (const v of Object.values(p)) {
      if (!isObject(v)) return apiError('param.invalid');
      const err = checkParamMap(v.cardParamMap ?? {});
      if (err) return err;
    }
    return null;
  };

  const privateMaps = (p: unknown): Record<string, Record<string, string>> => {
    const out: Record<string, Record<string, string>> = {};
    if (!isObject(p)) return out;
    for (const [user, v] of Object.entries(p)) out[user] = { ...((isObject(v) && isStringMap(v.cardParamMap) ? v.cardParamMap : {}) as Record<string, string>) };
    return out;
  };

  const clonePrivate = (p: Record<string, Record<string, string>>): Record<string, Record<string, string>> =>
    Object.fromEntries(Object.entries(p).map(([k, v]) => [k, { ...v }]));

  // "创建并投放卡片": create a card instance from a template and deliver it to every openSpaceId space →
  // { success: true, result: { outTrackId, deliverResults } }. Errors are 400 { code: 'param.…', message: same }.
  route('POST', '/v1.0/card/instances/createAndDeliver', 'card.instances.createAndDeliver', 'api', ({ body }) => {
    if (!isObject(body) || Object.keys(body).length === 0) return apiError('param.empty');
    if (!nonEmptyString(body.outTrackId)) return apiError('param.outTrackIdEmpty');
    if (!nonEmptyString(body.cardTemplateId)) return apiError('param.cardTemplateIdEmpty');
    if (!nonEmptyString(body.openSpaceId)) return apiError('param.openSpaceIdEmpty');
    const spaces = parseOpenSpaceId(body.openSpaceId);
    if (!spaces) return apiError('param.openSpaceIdInvalid');
    if (!isObject(body.cardData)) return apiError('param.cardPublicDataEmpty');
    const mapErr = checkParamMap(body.cardData.cardParamMap ?? {});
    if (mapErr) return mapErr;
    const privErr = checkPrivateData(body.privateData);
    if (privErr) return privErr;
    if (body.callbackType !== undefined && body.callbackType !== 'STREAM' && body.callbackType !== 'HTTP') return apiError('param.invalid');
    for (const s of spaces) {
      if (s.spaceType === 'IM_GROUP') {
        if (body.imGroupOpenDeliverModel === undefined) return apiError('param.openDeliverModelEmpty');
        if (!isObject(body.imGroupOpenDeliverModel) || !nonEmptyString(body.imGroupOpenDeliverModel.robotCode)) return apiError('param.openDeliverModelError');
      }
      if (s.spaceType === 'IM_ROBOT') {
        if (body.imRobotOpenDeliverModel === undefined) return apiError('param.openDeliverModelEmpty');
        if (!isObject(body.imRobotOpenDeliverModel)) return apiError('param.openDeliverModelError');
      }
      if (s.spaceType === 'IM_SINGLE' && body.imSingleOpenDeliverModel === undefined) return apiError('param.openDeliverModelEmpty');
      if (s.spaceType === 'ONE_BOX' && body.topOpenDeliverModel === undefined) return apiError('param.openDeliverModelEmpty');
    }
    if (fake.templates.size > 0 && !fake.templates.has(body.cardTemplateId)) return apiError('param.templateNotExist');
    if (fake.cards.has(body.outTrackId)) return apiError('param.cardAlreadyExist');

    const now = Date.now();
    const cardParamMap = { ...((body.cardData.cardParamMap ?? {}) as Record<string, string>) };
    const privateData = privateMaps(body.privateData);
    const card: DingTalkCard = {
      outTrackId: body.outTrackId,
      cardTemplateId: body.cardTemplateId,
      openSpaceId: body.openSpaceId,
      spaces,
      ...(typeof body.callbackType === 'string' ? { callbackType: body.callbackType } : {}),
      ...(typeof body.callbackRouteKey === 'string' ? { callbackRouteKey: body.callbackRouteKey } : {}),
      cardParamMap,
      privateData,
      history: [{ cardParamMap: { ...cardParamMap }, sent: { ...cardParamMap }, via: 'card.instances.createAndDeliver', byKey: false, privateData: clonePrivate(privateData), at: now }],
      deliverResults: [],
      request: body,
      createdAt: now,
      updatedAt: now,
    };
    fake.cards.set(card.outTrackId, card);

    for (const s of spaces) {
      if (s.spaceType === 'IM_GROUP') {
        const group = fake.groups.get(s.spaceId);
        const model = body.imGroupOpenDeliverModel as Record<string, any>;
        let errorMsg: string | null = null;
        if (!group) errorMsg = 'invalid openConversationId';
        else if (!group.botIsMember) errorMsg = 'robot is not in the group';
        else if (model.robotCode !== robotCode) errorMsg = 'robotCode does not match the app';
        if (errorMsg) {
          card.deliverResults.push({ spaceType: s.spaceType, spaceId: s.spaceId, success: false, errorMsg });
          continue;
        }
        const key = processQueryKey();
        card.deliverResults.push({ spaceType: s.spaceType, spaceId: s.spaceId, success: true, carrierId: key });
        record({ via: 'card.instances.createAndDeliver', conversationId: s.spaceId, card, processQueryKey: key, robotCode: model.robotCode });
      } else if (s.spaceType === 'IM_ROBOT') {
        const model = body.imRobotOpenDeliverModel as Record<string, any>;
        const usedRobot = nonEmptyString(model.robotCode) ? model.robotCode : robotCode;
        if (!userKnown(s.spaceId)) {
          card.deliverResults.push({ spaceType: s.spaceType, spaceId: s.spaceId, success: false, errorMsg: 'user not exist' });
          continue;
        }
        if (usedRobot !== robotCode) {
          card.deliverResults.push({ spaceType: s.spaceType, spaceId: s.spaceId, success: false, errorMsg: 'robotCode does not match the app' });
          continue;
        }
        const key = processQueryKey();
        card.deliverResults.push({ spaceType: s.spaceType, spaceId: s.spaceId, success: true, carrierId: key });
        record({ via: 'card.instances.createAndDeliver', userId: s.spaceId, card, processQueryKey: key, robotCode: usedRobot });
      } else {
        // IM_SINGLE (cool-app 1:1), ONE_BOX (pinned top card) and the deprecated spaces: accepted, not shown as messages.
        card.deliverResults.push({ spaceType: s.spaceType, spaceId: s.spaceId, success: true });
      }
    }
    return { status: 200, body: { success: true, result: { outTrackId: card.outTrackId, deliverResults: card.deliverResults.map((d) => ({ ...d })) } } };
  });

  // "更新卡片": PUT { outTrackId, cardData?, privateData?, cardUpdateOptions? } → { success: true, result: true }. Without
  // `updateCardDataByKey` the sent map replaces the data ("不填默认覆盖更新").
  route('PUT', '/v1.0/card/instances', 'card.instances.update', 'api', ({ body }) => {
    if (!nonEmptyString(body?.outTrackId)) return apiError('param.outTrackIdEmpty');
    const hasCard = isObject(body.cardData) && body.cardData.cardParamMap !== undefined;
    const hasPrivate = isObject(body.privateData) && Object.keys(body.privateData).length > 0;
    if (!hasCard && !hasPrivate) return apiError('param.cardDataAndPrivateDataBothEmpty');
    if (hasCard) {
      const err = checkParamMap(body.cardData.cardParamMap);
      if (err) return err;
    }
    const privErr = checkPrivateData(body.privateData);
    if (privErr) return privErr;
    const card = fake.cards.get(body.outTrackId);
    if (!card) return apiError('param.cardNotExist');
    const options = isObject(body.cardUpdateOptions) ? body.cardUpdateOptions : {};
    const byKey = options.updateCardDataByKey === true;
    const privateByKey = options.updatePrivateDataByKey === true;
    const sent = hasCard ? { ...(body.cardData.cardParamMap as Record<string, string>) } : {};
    if (hasCard) card.cardParamMap = byKey ? { ...card.cardParamMap, ...sent } : sent;
    if (hasPrivate) {
      for (const [user, map] of Object.entries(privateMaps(body.privateData))) {
        card.privateData[user] = privateByKey ? { ...(card.privateData[user] ?? {}), ...map } : map;
      }
    }
    const now = Date.now();
    card.updatedAt = now;
    card.history.push({ cardParamMap: { ...card.cardParamMap }, sent, via: 'card.instances.update', byKey, privateData: clonePrivate(card.privateData), at: now });
    return { status: 200, body: { success: true, result: true } };
  });

  // Scene group "创建群" (oapi, 历史文档): { title, template_id, owner_user_id, user_ids: 'a,b', subadmin_ids?, uuid?, … }
  // → { errcode: 0, success: true, result: { open_conversation_id, chat_id } }. `uuid` is "建群去重的业务ID" (FAQ: it
  // makes create idempotent, so retries do not create a second group): the same uuid returns the same group.
  route('POST', '/topapi/im/chat/scenegroup/create', 'scenegroup.create', 'oapi', ({ body }) => {
    if (!nonEmptyString(body?.title) || !nonEmptyString(body?.template_id) || !nonEmptyString(body?.owner_user_id)) return oapiError(40035, '参数错误');
    for (const f of ['user_ids', 'subadmin_ids', 'uuid']) {
      if (body[f] !== undefined && typeof body[f] !== 'string') return oapiError(40035, '参数错误');
    }
    if ([...String(body.title)].length > SCENE_TITLE_MAX) return oapiError(40035, '参数错误');
    if (nonEmptyString(body.uuid)) {
      const existing = fake.groups.get(sceneUuids.get(body.uuid) ?? '');
      if (existing) return oapiOk({ success: true, result: { open_conversation_id: existing.openConversationId, chat_id: existing.chatId } });
    }
    if (fake.groupTemplates.size > 0 && !fake.groupTemplates.has(body.template_id)) return oapiError(665036, 'group template not found or offline');
    const userIds = splitIds(body.user_ids ?? '');
    const subadmins = splitIds(body.subadmin_ids ?? '');
    if (userIds.length > SCENE_CREATE_MAX_USERS) return oapiError(665033, '群成员数量超出限制');
    for (const id of [body.owner_user_id as string, ...userIds, ...subadmins]) {
      if (!userKnown(id)) return oapiError(660041, '不存在的员工');
    }
    const { title, template_id, owner_user_id, user_ids: _u, subadmin_ids: _s, uuid, ...settings } = body;
    const group: DingTalkGroup = {
      openConversationId: newCid(),
      chatId: `chat${hex(16)}`,
      title,
      members: new Set([owner_user_id, ...userIds, ...subadmins]),
      ownerUserId: owner_user_id,
      subadminIds: new Set(subadmins),
      botIsMember: true,
      kind: 'scene',
      templateId: template_id,
      ...(nonEmptyString(uuid) ? { uuid } : {}),
      settings,
      createdAt: Date.now(),
    };
    fake.groups.set(group.openConversationId, group);
    if (nonEmptyString(uuid)) sceneUuids.set(uuid, group.openConversationId);
    return oapiOk({ success: true, result: { open_conversation_id: group.openConversationId, chat_id: group.chatId } });
  });

  // Scene group "新增群成员" (oapi): { open_conversation_id, user_ids: 'a,b' (≤ 100) } → { errcode: 0, success: true }.
  // 40035 bad parameters; 400020 "没有访问权限" for a group the app cannot see; 660041 "员工不存在".
  route('POST', '/topapi/im/chat/scenegroup/member/add', 'scenegroup.member.add', 'oapi', ({ body }) => {
    if (!nonEmptyString(body?.open_conversation_id) || !nonEmptyString(body?.user_ids)) return oapiError(40035, '不合法的参数');
    const ids = splitIds(body.user_ids);
    if (ids.length === 0 || ids.length > SCENE_ADD_MAX_USERS) return oapiError(40035, '不合法的参数');
    const group = fake.groups.get(body.open_conversation_id);
    if (!group || group.kind !== 'scene') return oapiError(400020, '没有访问权限');
    for (const id of ids) {
      if (!userKnown(id)) return oapiError(660041, '员工不存在');
    }
    if (new Set([...group.members, ...ids]).size > GROUP_MAX_MEMBERS) return oapiError(665033, '群成员数量超出限制');
    for (const id of ids) group.members.add(id);
    return oapiOk({ success: true });
  });

  // Scene group "查询场景群基本信息" (oapi): { open_conversation_id } → { result: { title, template_id, owner_staff_id, … } }.
  // A group not created from a template answers 4000003 (seen in public clients; not in the doc's table).
  route('POST', '/topapi/im/chat/scenegroup/get', 'scenegroup.get', 'oapi', ({ body }) => {
    if (!nonEmptyString(body?.open_conversation_id)) return oapiError(40035, '不合法的参数');
    const group = fake.groups.get(body.open_conversation_id);
    if (!group || group.kind !== 'scene') return oapiError(4000003, '群不存在或不是场景群');
    const s = group.settings;
    const opt = (k: string): string => String(s[k] ?? 0);
    return oapiOk({
      success: true,
      result: {
        open_conversation_id: group.openConversationId,
        title: group.title,
        template_id: group.templateId,
        owner_staff_id: group.ownerUserId,
        sub_admin_staff_ids: [...group.subadminIds],
        group_url: `dingtalk://dingtalkclient/page/link?url=${encodeURIComponent(`https://qr.dingtalk.com/action/joingroup?code=${group.chatId}`)}`,
        icon: typeof s.icon === 'string' ? s.icon : '',
        mention_all_authority: opt('mention_all_authority'),
        show_history_type: opt('show_history_type'),
        validation_type: opt('validation_type'),
        searchable: opt('searchable'),
        chat_banned_type: opt('chat_banned_type'),
        management_type: opt('management_type'),
      },
    });
  });

  // "根据手机号查询用户" (oapi): { mobile } → { result: { userid } }; 400002 missing, 40104 malformed, 60121 "未找到该用户".
  route('POST', '/topapi/v2/user/getbymobile', 'user.getbymobile', 'oapi', ({ body }) => {
    const mobile = body?.mobile;
    if (!nonEmptyString(mobile)) return oapiError(400002, '无效的参数');
    const m = normMobile(mobile);
    if (!/^\d{5,15}$/.test(m)) return oapiError(40104, '企业中无效的手机号');
    const user = [...fake.users.values()].find((u) => u.mobile !== undefined && normMobile(u.mobile) === m);
    if (!user) return oapiError(60121, '未找到该用户');
    return oapiOk({ result: { userid: user.userid } });
  });

  // "查询用户详情" (oapi): { userid } → { result: { userid, unionid, name, mobile?, … } }; 400002 missing; 60121 unknown.
  route('POST', '/topapi/v2/user/get', 'user.get', 'oapi', ({ body }) => {
    if (!nonEmptyString(body?.userid)) return oapiError(400002, '无效的参数');
    const user: DingTalkUser | undefined = fake.users.get(body.userid) ?? (strictUsers ? undefined : { userid: body.userid, name: body.userid });
    if (!user) return oapiError(60121, '找不到该用户');
    return oapiOk({
      result: {
        userid: user.userid,
        unionid: user.unionid ?? `union_${user.userid}`,
        name: user.name,
        ...(user.mobile !== undefined ? { mobile: user.mobile, state_code: '86', hide_mobile: false } : {}),
        ...(user.title !== undefined ? { title: user.title } : {}),
        ...(user.email !== undefined ? { email: user.email } : {}),
        ...(user.job_number !== undefined ? { job_number: user.job_number } : {}),
        active: user.active !== false,
        admin: false,
        boss: false,
        senior: false,
        real_authed: true,
        exclusive_account: false,
        dept_id_list: [1],
      },
    });
  });

  // -------------------------------------------------------------------------------------------
  // HTTP
  // -------------------------------------------------------------------------------------------
  const takeFailure = (name: string, path: string): DingTalkFailure | undefined => {
    for (const key of [name, path]) {
      const q = failures.get(key);
      const head = q?.[0];
      if (!q || !head) continue;
      head.left -= 1;
      if (head.left <= 0) q.shift();
      if (q.length === 0) failures.delete(key);
      return head.failure;
    }
    return undefined;
  };

  const failureReply = (f: DingTalkFailure, r: Route): Reply => {
    if ('rateLimited' in f) {
      if (f.scope === 'ip') return { status: 200, body: { status: 1111, wait: 5, source: 'x5', punish: 'deny', uuid: randomUUID() } };
      if (r.name === 'robot.sendBySession') return oapiError(410100, '发送速度太快而限流');
      if (r.base === 'api') {
        return f.scope === 'global'
          ? apiError('Forbidden.AccessDenied.QpsLimitForApi', '该接口在所有组织的调用频率已超过限制，请稍后再试', 403)
          : apiError('Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', '当前应用调用该接口的频率已超过限制，请稍后再试', 403);
      }
      return f.scope === 'global'
        ? oapiError(90002, '您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了')
        : oapiError(90018, '当前应用调用该接口的频率已超过限制，请求被暂时禁用');
    }
    if ('hang' in f) return { status: 0, body: 'no answer' };
    if ('code' in f) {
      if (r.base === 'api') return apiError(String(f.code), f.message ?? String(f.code), f.status ?? 400);
      return oapiError(typeof f.code === 'number' ? f.code : Number(f.code) || -1, f.message ?? `injected error ${f.code}`, f.status ?? 200);
    }
    return r.base === 'api' ? apiError('system.error', '未知的系统错误', 500) : oapiError(-1, '系统繁忙', 500);
  };

  const send = (res: http.ServerResponse, r: Reply, base: Base): void => {
    const rid = isObject(r.body) && typeof r.body.requestid === 'string' ? r.body.requestid : requestId();
    res.writeHead(r.status, {
      'Content-Type': 'application/json;charset=utf-8',
      Server: 'DingTalk/1.0.0',
      ...(base === 'api' ? { 'x-acs-request-id': rid, 'x-acs-trace-id': hex(16) } : {}),
      ...(r.headers ?? {}),
    });
    res.end(JSON.stringify(r.body));
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
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      const base: Base = path.startsWith('/v1.0/') ? 'api' : 'oapi';
      const isForm = (headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');

      let body: any = {};
      let bodyOk = true;
      if (raw.trim() !== '') {
        if (isForm && base === 'oapi') body = Object.fromEntries(new URLSearchParams(raw));
        else {
          const p = parseJson(raw);
          if (p.ok) body = p.value;
          else {
            body = { _raw: raw };
            bodyOk = false;
          }
        }
      }

      const r = routes.find((x) => x.method === method && x.path === path);
      const name: DingTalkCallName = r?.name ?? 'unknown';
      let token: string | null = null;
      if (base === 'api') token = headers['x-acs-dingtalk-access-token'] ?? null;
      else token = query.access_token ?? (isObject(body) && typeof body.access_token === 'string' ? body.access_token : null);
      if (token === '') token = null;

      let reply: Reply;
      const injected = r ? takeFailure(r.name, path) : undefined;
      const applyThenFail = injected !== undefined && 'applied' in injected && injected.applied === true;
      if (!r) {
        // Unknown paths: oapi topapi → errcode 22 "不合法ApiName" (probed); other oapi → 404 "请求的URI地址不存在";
        // api → the gateway's 404 (unverified wording).
        if (base === 'api') reply = apiError('InvalidAction.NotFound', 'Specified api is not found, please check your url and method.', 404);
        else if (path.startsWith('/topapi/')) {
          const apiName = `dingtalk.oapi.${path.slice('/topapi/'.length).replace(/\//g, '.')}`;
          reply = { status: 200, body: { errcode: 22, sub_msg: `不合法ApiName，ApiName = ${apiName}`, errmsg: `Invalid method[submsg=不合法ApiName，ApiName = ${apiName}]`, request_id: oapiRequestId() } };
        } else reply = oapiError(404, '请求的URI地址不存在');
      } else if (injected && !applyThenFail) reply = failureReply(injected, r);
      else if (r.base === 'api' && (method === 'POST' || method === 'PUT') && (!bodyOk || !isObject(body) || raw.trim() === '')) {
        // The gateway only reads JSON bodies (a form-urlencoded body is "Missingbody", aliyun/alibabacloud-php-sdk#36).
        reply = apiMissing('body');
      } else {
        let authError: Reply | null = null;
        let tokenApp = appKey;
        if (r.auth === 'api') {
          const t = token === null ? undefined : fake.tokens.get(token);
          if (token === null) authError = apiError('AuthenticationFailed.MissingParameter', '缺少参数：x-acs-dingtalk-access-token');
          else if (!t || t.expiresAt <= Date.now()) authError = apiError('InvalidAuthentication', '不合法的access_token');
          else tokenApp = t.appKey;
        } else if (r.auth === 'oapi') {
          const t = token === null ? undefined : fake.tokens.get(token);
          if (token === null) authError = oapi88('40000', 'access_token is blank');
          else if (!t || t.expiresAt <= Date.now()) authError = oapi88('40014', '不合法的access_token');
          else tokenApp = t.appKey;
        }
        if (authError) reply = authError;
        else {
          try {
            reply = r.handler({ query, body: isObject(body) ? body : {}, token, appKey: tokenApp });
          } catch (e) {
            reply = r.base === 'api' ? apiError('system.error', `未知的系统错误: ${String(e)}`, 500) : oapiError(-1, `系统繁忙: ${String(e)}`);
          }
        }
      }
      let appliedResponse: any;
      if (injected && applyThenFail && r) {
        appliedResponse = reply.body;
        reply = failureReply(injected, r);
      }
      fake.calls.push({ method, path, name, base, query, headers, body, token, at, status: reply.status, response: reply.body, ...(applyThenFail ? { appliedResponse } : {}) });
      const final = reply;
      // Never answered: the caller's own deadline ends it (closed with the fake otherwise).
      if (injected && 'hang' in injected) return;
      if (!(fake.latencyMs > 0)) return send(res, final, base);
      const t = setTimeout(() => {
        delayed.delete(t);
        if (!res.destroyed && !res.writableEnded) send(res, final, base);
      }, fake.latencyMs);
      delayed.add(t);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.apiUrl = fake.url;
  fake.oapiUrl = fake.url;
  return fake;
}
