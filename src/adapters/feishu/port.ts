/**
 * ChatPort over Feishu's open-apis with the official SDK client (issue 5): cards as JSON 2.0
 * interactive messages, updates by PATCH, replies under a message, war-room groups, and the
 * replies the events handler sends. The client is pointed at any base URL (`FEISHU_DOMAIN`), so a
 * local fake works.
 *
 * The SDK neither retries nor backs off (PLATFORMS.md §5): a rate limit (code 99991400, HTTP 400
 * or 429) surfaces at once as a retryable ChatDeliveryError and the outbox waits; business errors
 * come as HTTP 400 with `{code, msg}`, or as HTTP 200 with `code != 0`, which the SDK does not throw.
 */
import { createHash } from 'node:crypto';
import * as lark from '@larksuiteoapi/node-sdk';
import type { Target } from '../../flows/effects';
import type { FormContext } from '../../flows/interactions';
import type { NeutralCard, NeutralForm } from '../../flows/messages/card';
import { t } from '../../flows/messages/catalog';
import { truncate } from '../../flows/messages/format';
import { ChatDeliveryError, type ChatPort, type Logger, type PostedMessage, type RoomPort } from '../../flows/ports';
import type { Locale, Policy } from '../../flows/policy/policy';
import type { FeishuPlace, FeishuReplies } from './events';
import { renderCard, renderForm, renderText } from './render';

/** Feishu's "too many requests" code (HTTP 400, sometimes 429). */
export const RATE_LIMITED = 99991400;
/** Token problems the SDK's next call fixes by fetching a new tenant token: worth a retry. */
const TRANSIENT_CODES = new Set([RATE_LIMITED, 99991663, 99991661, 99991668]);
/** Group names: at most 60 characters (im.v1.chat.create `name`). */
export const ROOM_NAME_MAX = 60;

export interface FeishuClientOptions {
  appId: string;
  appSecret: string;
  /** `https://open.feishu.cn` (default), `https://open.larksuite.com`, or a local fake's URL. */
  domain?: string;
  logger: Logger;
  /** Deadline for each API call (default 10 s); a call past it fails and the outbox retries. */
  timeoutMs?: number;
}

/** The SDK client, its own log lines routed into ours at warn and above (never the secret). */
export function createFeishuClient(opts: FeishuClientOptions): lark.Client {
  const say = (level: 'warn' | 'error') => (...m: unknown[]) => opts.logger[level]('feishu sdk', { detail: m.map((x) => (x instanceof Error ? x.message : typeof x === 'string' ? x : JSON.stringify(x))).join(' ').slice(0, 500) });
  return new lark.Client({
    appId: opts.appId,
    appSecret: opts.appSecret,
    domain: opts.domain ?? lark.Domain.Feishu,
    loggerLevel: lark.LoggerLevel.warn,
    // The SDK's default token cache is module-wide, keyed by app id: a client of its own keeps
    // two deployments (or a test's fakes) from handing each other's tenant tokens around.
    cache: new lark.DefaultCache(),
    logger: { error: say('error'), warn: say('warn'), info: () => {}, debug: () => {}, trace: () => {} },
    // The default instance's interceptor unwraps `data`, so it is an HttpInstance at run time.
    httpInstance: withTimeout(lark.defaultHttpInstance as unknown as lark.HttpInstance, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
  });
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The `uuid` of a send: Feishu posts at most one message per uuid within an hour, so a retry whose
 * first try was applied but its answer lost returns that message instead of a second one. At most
 * 50 characters.
 */
const dedupeUuid = (key: string) => createHash('sha256').update(`firebell-send:${key}`).digest('hex').slice(0, 50);

/**
 * The SDK's HTTP instance with a deadline on every call. Its own has none (axios' default is no
 * timeout), so one Feishu call that never answers would hold the outbox worker for good. Wraps
 * rather than copies the instance: the SDK's interceptors (the User-Agent, unwrapping `data`)
 * stay as they are.
 */
function withTimeout(base: lark.HttpInstance, timeoutMs: number): lark.HttpInstance {
  const o = <T extends object | undefined>(opts: T) => ({ timeout: timeoutMs, ...opts });
  return {
    request: (opts) => base.request(o(opts)),
    get: (url, opts) => base.get(url, o(opts)),
    delete: (url, opts) => base.delete(url, o(opts)),
    head: (url, opts) => base.head(url, o(opts)),
    options: (url, opts) => base.options(url, o(opts)),
    post: (url, data, opts) => base.post(url, data, o(opts)),
    put: (url, data, opts) => base.put(url, data, o(opts)),
    patch: (url, data, opts) => base.patch(url, data, o(opts)),
  };
}

type Answer = { code?: number; msg?: string; data?: Record<string, any> } | null | undefined;

/** What the outbox needs to know about a failed call: wait how long, or give up. */
export function toFeishuDeliveryError(err: unknown): ChatDeliveryError {
  const e = err as { response?: { status?: number; data?: { code?: number; msg?: string }; headers?: Record<string, string> }; message?: string };
  const status = e?.response?.status;
  const code = e?.response?.data?.code;
  if (code === RATE_LIMITED || status === 429) {
    // x-ogw-ratelimit-reset: seconds until the window resets (Feishu's gateway header).
    const reset = Number(e.response?.headers?.['x-ogw-ratelimit-reset']);
    return new ChatDeliveryError('feishu rate limited', Number.isFinite(reset) && reset > 0 ? reset * 1000 : 1000, false, true);
  }
  // A 5xx is Feishu's own trouble whatever code its body carries (an outage answers
  // HTTP 500 with `code: 1500 internal error`): retried, never parked on the first try.
  if (status !== undefined && status >= 500) return new ChatDeliveryError(`feishu http ${status}${code !== undefined ? ` (code ${code})` : ''}`, null, false);
  if (code !== undefined) return new ChatDeliveryError(`feishu error ${code}: ${e.response?.data?.msg ?? ''}`, null, !TRANSIENT_CODES.has(code));
  if (status !== undefined) return new ChatDeliveryError(`feishu http ${status}`, null, false);
  return new ChatDeliveryError(`feishu request failed: ${e?.message ?? String(err)}`, null, false);
}

/** Checks an HTTP-200 answer (`code != 0` is a failure the SDK does not throw). */
function ok(res: Answer): Record<string, any> {
  if (!res || res.code === undefined || res.code === 0) return res?.data ?? {};
  throw toFeishuDeliveryError({ response: { status: 200, data: { code: res.code, msg: res.msg } } });
}

async function call<T extends Answer>(work: () => Promise<T>): Promise<Record<string, any>> {
  let res: T;
  try {
    res = await work();
  } catch (err) {
    throw toFeishuDeliveryError(err);
  }
  return ok(res);
}

/** `receive_id_type` for an id: chats are `oc_…`, people are addressed by open_id `ou_…`. */
export function receiveIdType(id: string): 'chat_id' | 'open_id' | 'user_id' {
  if (id.startsWith('oc_')) return 'chat_id';
  if (id.startsWith('ou_')) return 'open_id';
  return 'user_id';
}

/**
 * Fills in the Feishu open_id of configured people who have an e-mail or mobile but no `feishu:`
 * account, through the contact API (`contact:user.id:readonly`), once at start: 50 per call
 * (batch_get_id's limit); and of people configured by user_id (`contact:user.employee_id:readonly`). People it cannot find are logged and left out of Feishu. Returns how
 * many were found. Never throws (the bot starts without them).
 */
export async function resolveFeishuPeople(client: lark.Client, policy: Policy, logger: Logger): Promise<number> {
  let found = await resolveUserIds(client, policy, logger);
  const missing = Object.values(policy.people).filter((p) => !p.accounts.feishu && (p.email || p.mobile));
  for (let i = 0; i < missing.length; i += 50) {
    const batch = missing.slice(i, i + 50);
    const emails = batch.map((p) => p.email).filter((e): e is string => !!e);
    const mobiles = batch.filter((p) => !p.email && p.mobile).map((p) => p.mobile!);
    try {
      const data = await call(() =>
        client.contact.v3.user.batchGetId({ params: { user_id_type: 'open_id' }, data: { ...(emails.length ? { emails } : {}), ...(mobiles.length ? { mobiles } : {}) } }) as Promise<Answer>,
      );
      const list = (data.user_list as { user_id?: string; email?: string; mobile?: string }[] | undefined) ?? [];
      for (const person of batch) {
        const hit = list.find((u) => u.user_id && ((person.email && u.email?.toLowerCase() === person.email.toLowerCase()) || (!person.email && person.mobile && u.mobile?.replace(/^\+86/, '') === person.mobile.replace(/^\+86/, ''))));
        if (hit?.user_id) {
          person.accounts.feishu = hit.user_id;
          found++;
        } else logger.warn('feishu user not found by e-mail or mobile', { person: person.key });
      }
    } catch (err) {
      logger.error('feishu contact lookup failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
  return found;
}

/**
 * People configured by their tenant-wide user_id (an employee number, not `ou_…`) get their
 * open_id, because events and card callbacks name the sender by open_id. One call per person
 * (获取单个用户信息), five at a time; someone not found keeps the user_id, which still receives
 * messages (receive_id_type=user_id) but is not recognised when they click.
 */
async function resolveUserIds(client: lark.Client, policy: Policy, logger: Logger): Promise<number> {
  const byUserId = Object.values(policy.people).filter((p) => p.accounts.feishu && !/^o[unc]_/.test(p.accounts.feishu));
  let found = 0;
  for (let i = 0; i < byUserId.length; i += 5) {
    await Promise.all(
      byUserId.slice(i, i + 5).map(async (person) => {
        try {
          const data = await call(() => client.contact.v3.user.get({ path: { user_id: person.accounts.feishu! }, params: { user_id_type: 'user_id' } }) as Promise<Answer>);
          const openId = (data.user as { open_id?: string } | undefined)?.open_id;
          if (!openId) throw new Error('no open_id in the answer');
          person.accounts.feishu = openId;
          found++;
        } catch (err) {
          logger.warn('feishu user_id not resolved to an open_id', { person: person.key, error: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
  }
  return found;
}

export interface FeishuPort extends ChatPort {
  readonly platform: 'feishu';
  /** The answers the events handler gives people (replies, cards, forms). */
  readonly replies: FeishuReplies;
}

export function createFeishuPort(client: lark.Client, logger: Logger, opts: { locale?: Locale; chatApplink?: string } = {}): FeishuPort {
  const locale = opts.locale ?? 'zh-CN';
  const cardContent = (card: NeutralCard) => {
    const r = renderCard(card, { locale, ...(opts.chatApplink ? { chatApplink: opts.chatApplink } : {}) });
    if (r.warnings.length) logger.warn('feishu card trimmed to fit limits', { warnings: r.warnings });
    return JSON.stringify(r.card);
  };

  async function send(to: string, msgType: 'text' | 'interactive', content: string, key?: string): Promise<PostedMessage> {
    const uuid = key ? dedupeUuid(key) : undefined;
    const data = await call(() => client.im.v1.message.create({ params: { receive_id_type: receiveIdType(to) }, data: { receive_id: to, msg_type: msgType, content, ...(uuid ? { uuid } : {}) } }) as Promise<Answer>);
    return { channel: String(data.chat_id ?? to), messageId: String(data.message_id) };
  }

  async function reply(messageId: string, msgType: 'text' | 'interactive', content: string, inThread: boolean, key?: string): Promise<PostedMessage> {
    const uuid = key ? dedupeUuid(key) : undefined;
    const data = await call(() => client.im.v1.message.reply({ path: { message_id: messageId }, data: { msg_type: msgType, content, reply_in_thread: inThread, ...(uuid ? { uuid } : {}) } }) as Promise<Answer>);
    return { channel: String(data.chat_id ?? ''), messageId: String(data.message_id) };
  }

  /**
   * The group announcement (群公告), which Feishu shows at the top of the group. Groups created
   * through the API get the new docx announcement: its blocks are written under the root block
   * (block_id = chat_id). `client_token` makes a repeat after a lost answer a no-op. A group with
   * the legacy (doc) announcement answers 1772006 and gets the old PATCH with its revision.
   */
  async function setAnnouncement(chatId: string, lines: string[]): Promise<void> {
    const clientToken = createHash('sha256').update(`firebell-announcement:${chatId}:${lines.join('\n')}`).digest('hex').slice(0, 36);
    const children = lines.map((content) => ({ block_type: 2, text: { elements: [{ text_run: { content } }] } }));
    try {
      await call(() =>
        client.docx.v1.chatAnnouncementBlockChildren.create({
          path: { chat_id: chatId, block_id: chatId },
          params: { revision_id: -1, client_token: clientToken },
          data: { children, index: 0 },
        }) as Promise<Answer>,
      );
    } catch (err) {
      if (!(err instanceof ChatDeliveryError) || !/feishu error 1772006\b/.test(err.message)) throw err;
      const info = await call(() => client.im.v1.chatAnnouncement.get({ path: { chat_id: chatId } }) as Promise<Answer>);
      const payload = JSON.stringify({ blocks: lines.map((text) => ({ type: 'paragraph', paragraph: { elements: [{ type: 'textRun', textRun: { text, style: {} } }], style: {} } })) });
      const request = JSON.stringify({ requestType: 'InsertBlocksRequestType', insertBlocksRequest: { payload, location: { zoneId: '0', index: 0, startOfZone: true } } });
      await call(() => client.im.v1.chatAnnouncement.patch({ path: { chat_id: chatId }, data: { revision: String(info.revision ?? '0'), requests: [request] } }) as Promise<Answer>);
    }
  }

  const rooms: RoomPort = {
    roomName(number, title, _prefix, attempt) {
      // Feishu group names take any characters; the number first keeps them findable and sorted.
      const suffix = attempt > 0 ? ` (${attempt + 1})` : '';
      return truncate(`${number} ${title}`.trim(), ROOM_NAME_MAX - suffix.length) + suffix;
    },
    async createRoom(name) {
      // `uuid` makes the create idempotent (the same uuid returns the same group), so a create
      // whose answer was lost is repeated safely; names are never "taken" on Feishu.
      const uuid = createHash('sha256').update(`firebell-room:${name}`).digest('hex').slice(0, 50);
      const data = await call(() =>
        client.im.v1.chat.create({
          params: { user_id_type: 'open_id', set_bot_manager: true, uuid },
          data: { name, chat_mode: 'group', chat_type: 'private' },
        }) as Promise<Answer>,
      );
      return { channel: String(data.chat_id) };
    },
    async findOwnRoom() {
      return null;
    },
    async describeRoom(channel, topic, purpose) {
      await call(() => client.im.v1.chat.update({ path: { chat_id: channel }, data: { description: truncate(purpose, 100) } }) as Promise<Answer>);
      await setAnnouncement(channel, [topic, purpose, t(locale, 'feishu.announcement_help')]);
    },
    async inviteToRoom(channel, users) {
      const failed: { user: string; error: string }[] = [];
      for (let i = 0; i < users.length; i += 50) {
        const batch = users.slice(i, i + 50);
        const data = await call(() => client.im.v1.chatMembers.create({ path: { chat_id: channel }, params: { member_id_type: 'open_id' }, data: { id_list: batch } }) as Promise<Answer>);
        for (const u of (data.invalid_id_list as string[] | undefined) ?? []) failed.push({ user: u, error: 'invalid_id' });
        for (const u of (data.not_existed_id_list as string[] | undefined) ?? []) failed.push({ user: u, error: 'not_existed' });
        for (const u of (data.pending_approval_id_list as string[] | undefined) ?? []) failed.push({ user: u, error: 'pending_approval' });
      }
      return { failed };
    },
    async pin(message) {
      await call(() => client.im.v1.pin.create({ data: { message_id: message.messageId } }) as Promise<Answer>);
    },
    async archiveRoom(channel) {
      // Feishu has no archive; the group is marked ended (name and description) and kept readable.
      const info = await call(() => client.im.v1.chat.get({ path: { chat_id: channel } }) as Promise<Answer>);
      const name = String(info.name ?? '');
      const mark = t(locale, 'feishu.archived_prefix');
      if (name.startsWith(mark)) return;
      await call(() => client.im.v1.chat.update({ path: { chat_id: channel }, data: { name: truncate(`${mark}${name}`, ROOM_NAME_MAX) } }) as Promise<Answer>);
    },
  };

  const replies: FeishuReplies = {
    async text(to: FeishuPlace, text: string) {
      if (to.messageId) await reply(to.messageId, 'text', renderText(text), false);
      else await send(to.chatId, 'text', renderText(text));
    },
    async card(to: FeishuPlace, card: NeutralCard) {
      if (to.messageId) await reply(to.messageId, 'interactive', cardContent(card), false);
      else await send(to.chatId, 'interactive', cardContent(card));
    },
    async form(openId: string, form: NeutralForm, context: FormContext) {
      const r = renderForm(form, JSON.stringify(context), t(locale, 'form.cancel'));
      if (r.warnings.length) logger.warn('feishu form trimmed to fit limits', { warnings: r.warnings });
      await send(openId, 'interactive', JSON.stringify(r.card));
    },
  };

  return {
    platform: 'feishu',
    rooms,
    replies,
    postCard: (target: Target, card: NeutralCard, tag?: string) => send(target.id, 'interactive', cardContent(card), tag ? `card:${tag}` : undefined),
    async updateCard(message, card) {
      await call(() => client.im.v1.message.patch({ path: { message_id: message.messageId }, data: { content: cardContent(card) } }) as Promise<Answer>);
    },
    async sendText(target, text, thread, key) {
      // Under a card, a reply in its thread (话题); broadcast keeps it a quoted reply in the chat.
      if (thread) return reply(thread.message.messageId, 'text', renderText(text), !thread.broadcast, key);
      return send(target.id, 'text', renderText(text), key);
    },
  };
}
