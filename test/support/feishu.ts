/**
 * Inbound Feishu (Lark) requests into OUR server, shaped exactly as Feishu sends them: v2 (`schema: "2.0"`) event and
 * card-callback envelopes, AES-encrypted with the app's Encrypt Key and signed (see /work/shared/PLATFORMS.md §5 and
 * the verified helper in platform-experiments/lark-test.mjs).
 *
 * Envelope shapes follow the open.feishu.cn docs: "接收消息" (im.message.receive_v1), "卡片回传交互"
 * (card.action.trigger), "机器人自定义菜单事件" (application.bot.menu_v6) and the URL-verification challenge. The same
 * objects can be fed to `dispatcher.invoke(payload, { needCheck: false })`, which is what the SDK's WSClient does.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';

/** Defaults shared by the envelope builders (override per call). */
export interface FeishuEnvelopeOptions {
  /** `header.app_id` (default `cli_firebell`, the fake's default app). */
  appId?: string;
  /** `header.tenant_key` and the sender's / operator's `tenant_key` (default `tk_firebell`). */
  tenantKey?: string;
  /** `header.token`: the app's Verification Token (default `vtoken-firebell`). */
  verificationToken?: string;
  /** `header.create_time` in ms (default now). */
  createTime?: number;
  /** `header.event_id` (default random). */
  eventId?: string;
}

/** A person mentioned in a message (`message.mentions[]`); keys are assigned `@_user_1`, `@_user_2`, … in order. */
export interface FeishuMention {
  openId: string;
  name: string;
  userId?: string;
  unionId?: string;
}

/** The bot as it appears in mentions (the default `@_user_1` of group messages). */
export const FEISHU_BOT: Readonly<FeishuMention> = { openId: 'ou_bot_firebell', name: 'Firebell' };

/** A v2 event / callback envelope. */
export interface FeishuEnvelope {
  schema: '2.0';
  header: { event_id: string; event_type: string; create_time: string; token: string; app_id: string; tenant_key: string };
  event: Record<string, any>;
}

const DEFAULTS = { appId: 'cli_firebell', tenantKey: 'tk_firebell', verificationToken: 'vtoken-firebell' };

function header(eventType: string, env: FeishuEnvelopeOptions = {}): FeishuEnvelope['header'] {
  return {
    event_id: env.eventId ?? randomBytes(16).toString('hex'),
    event_type: eventType,
    create_time: String(env.createTime ?? Date.now()),
    token: env.verificationToken ?? DEFAULTS.verificationToken,
    app_id: env.appId ?? DEFAULTS.appId,
    tenant_key: env.tenantKey ?? DEFAULTS.tenantKey,
  };
}

function hexId(prefix: string, n = 32): string {
  return `${prefix}${randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n)}`;
}

// ---------------------------------------------------------------------------------------------
// Encryption and signatures
// ---------------------------------------------------------------------------------------------

/**
 * Encrypt a payload as Feishu does when an Encrypt Key is configured: AES-256-CBC with key = sha256(encryptKey), a
 * random 16-byte IV prepended to the ciphertext, base64 → `{ encrypt }`.
 */
export function encryptFeishu(encryptKey: string, obj: unknown): { encrypt: string } {
  const key = createHash('sha256').update(encryptKey).digest();
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const data = Buffer.concat([iv, cipher.update(JSON.stringify(obj), 'utf8'), cipher.final()]);
  return { encrypt: data.toString('base64') };
}

/** Inverse of {@link encryptFeishu} (what the SDK's `AESCipher.decrypt` does): the decrypted JSON, parsed. */
export function decryptFeishu(encryptKey: string, encrypt: string): any {
  const key = createHash('sha256').update(encryptKey).digest();
  const buf = Buffer.from(encrypt, 'base64');
  const decipher = createDecipheriv('aes-256-cbc', key, buf.subarray(0, 16));
  const text = Buffer.concat([decipher.update(buf.subarray(16)), decipher.final()]).toString('utf8');
  return JSON.parse(text);
}

/** `X-Lark-Signature`: hex sha256 of `timestamp + nonce + encryptKey + rawBody`. */
export function feishuSignature(encryptKey: string, timestamp: string, nonce: string, rawBody: string): string {
  return createHash('sha256').update(timestamp + nonce + encryptKey + rawBody).digest('hex');
}

/**
 * The signature headers Feishu puts on an event request. The SDK's dispatcher hashes the re-serialised parsed body
 * (`JSON.stringify(body)`), so sign exactly the bytes `JSON.stringify` produces — as {@link postFeishu} does.
 * @param timestamp Unix seconds as a string
 */
export function signFeishu(encryptKey: string, timestamp: string, nonce: string, rawBody: string): Record<string, string> {
  return {
    'X-Lark-Request-Timestamp': timestamp,
    'X-Lark-Request-Nonce': nonce,
    'X-Lark-Signature': feishuSignature(encryptKey, timestamp, nonce, rawBody),
  };
}

// ---------------------------------------------------------------------------------------------
// Envelope builders
// ---------------------------------------------------------------------------------------------

/** Input of {@link messageEvent}. */
export interface MessageEventInput {
  /** Sender's open_id. */
  openId: string;
  userId?: string;
  unionId?: string;
  /** The chat: a group `oc_…`, or the p2p chat with the bot (the fake's `p2pChatId(openId)`). */
  chatId: string;
  chatType: 'p2p' | 'group';
  /**
   * What the user typed. Mentions are `@_user_N` placeholders in the text: when `text` has none, the keys of `mentions`
   * are put in front (`"@_user_1 报障 db down"`), as a group @mention of the bot arrives.
   */
  text: string;
  /** Mentioned users; default for `group` is the bot ({@link FEISHU_BOT}), for `p2p` none. */
  mentions?: FeishuMention[];
  messageId?: string;
  eventId?: string;
  /** Replying to a message: its id (sets `root_id` and `parent_id`). */
  parentId?: string;
  /** Message create time in ms (default now). */
  createTime?: number;
}

/** An `im.message.receive_v1` envelope for a text message (`message.content` is a JSON string). */
export function messageEvent(input: MessageEventInput, env: FeishuEnvelopeOptions = {}): FeishuEnvelope {
  const mentions = input.mentions ?? (input.chatType === 'group' ? [FEISHU_BOT] : []);
  const keys = mentions.map((_, i) => `@_user_${i + 1}`);
  const text = keys.length > 0 && !/@_user_\d+/.test(input.text) ? `${keys.join(' ')} ${input.text}` : input.text;
  const tenantKey = env.tenantKey ?? DEFAULTS.tenantKey;
  const created = String(input.createTime ?? Date.now());
  return {
    schema: '2.0',
    header: header('im.message.receive_v1', { ...env, ...(input.eventId ? { eventId: input.eventId } : {}) }),
    event: {
      sender: {
        sender_id: { open_id: input.openId, user_id: input.userId ?? input.openId.replace(/^ou_/, ''), union_id: input.unionId ?? input.openId.replace(/^ou_/, 'on_') },
        sender_type: 'user',
        tenant_key: tenantKey,
      },
      message: {
        message_id: input.messageId ?? hexId('om_'),
        ...(input.parentId ? { root_id: input.parentId, parent_id: input.parentId } : {}),
        create_time: created,
        update_time: created,
        chat_id: input.chatId,
        chat_type: input.chatType,
        message_type: 'text',
        content: JSON.stringify({ text }),
        ...(mentions.length > 0
          ? {
              mentions: mentions.map((m, i) => ({
                key: keys[i],
                id: { open_id: m.openId, user_id: m.userId ?? m.openId.replace(/^ou_/, ''), union_id: m.unionId ?? m.openId.replace(/^ou_/, 'on_') },
                name: m.name,
                tenant_key: tenantKey,
              })),
            }
          : {}),
      },
    },
  };
}

/** Input of {@link cardAction}. */
export interface CardActionInput {
  /** Who clicked. */
  openId: string;
  userId?: string;
  unionId?: string;
  /** The `behaviors[].value` (JSON 2.0) / `value` (1.0) of the clicked component. */
  value: unknown;
  /** The card message clicked on (`context.open_message_id`). */
  messageId: string;
  /** Its chat (`context.open_chat_id`). */
  chatId: string;
  /** Form container submit: the form's values by input name. */
  formValue?: Record<string, unknown>;
  /** Delayed-update token (`event.token`, `c-…`); issue one with the fake's `issueCardToken(messageId)`. */
  token?: string;
  /** Component tag (default `button`). */
  tag?: string;
  /** Component `name` (form submit buttons, inputs). */
  name?: string;
  /** Selected option of a select / overflow. */
  option?: string;
  eventId?: string;
}

/** A `card.action.trigger` envelope (new card callback; answered with `{ toast, card }` within 3 s). */
export function cardAction(input: CardActionInput, env: FeishuEnvelopeOptions = {}): FeishuEnvelope {
  const tenantKey = env.tenantKey ?? DEFAULTS.tenantKey;
  return {
    schema: '2.0',
    header: header('card.action.trigger', { ...env, ...(input.eventId ? { eventId: input.eventId } : {}) }),
    event: {
      operator: {
        tenant_key: tenantKey,
        open_id: input.openId,
        user_id: input.userId ?? input.openId.replace(/^ou_/, ''),
        union_id: input.unionId ?? input.openId.replace(/^ou_/, 'on_'),
      },
      token: input.token ?? `c-${randomBytes(20).toString('hex')}`,
      action: {
        value: input.value,
        tag: input.tag ?? 'button',
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.formValue !== undefined ? { form_value: input.formValue } : {}),
        ...(input.option !== undefined ? { option: input.option } : {}),
      },
      host: 'im_message',
      context: { open_message_id: input.messageId, open_chat_id: input.chatId },
    },
  };
}

/** Input of {@link menuEvent}. */
export interface MenuEventInput {
  openId: string;
  /** The menu item's event key configured in the developer console. */
  eventKey: string;
  userId?: string;
  unionId?: string;
  /** `operator.operator_name`. */
  name?: string;
  eventId?: string;
}

/** An `application.bot.menu_v6` envelope (bot menu click; only in the p2p chat with the bot). */
export function menuEvent(input: MenuEventInput, env: FeishuEnvelopeOptions = {}): FeishuEnvelope {
  return {
    schema: '2.0',
    header: header('application.bot.menu_v6', { ...env, ...(input.eventId ? { eventId: input.eventId } : {}) }),
    event: {
      operator: {
        operator_name: input.name ?? input.openId,
        operator_id: {
          union_id: input.unionId ?? input.openId.replace(/^ou_/, 'on_'),
          user_id: input.userId ?? input.openId.replace(/^ou_/, ''),
          open_id: input.openId,
        },
      },
      event_key: input.eventKey,
      // Docs: "用户点击菜单时间戳（单位：秒）", a string in the example.
      timestamp: String(Math.floor(Date.now() / 1000)),
    },
  };
}

/** The URL-verification request Feishu sends when the request URL is saved (answer `{ challenge }` within 1 s). */
export function urlVerification(challenge: string = randomUUID(), token: string = DEFAULTS.verificationToken): { challenge: string; token: string; type: 'url_verification' } {
  return { challenge, token, type: 'url_verification' };
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/** Options for {@link postFeishu}. */
export interface PostFeishuOptions {
  /** The app's Encrypt Key: bodies are encrypted with it (unless `encrypt: false`) and signed with it. */
  encryptKey?: string;
  /** Encrypt the body (default: when `encryptKey` is set). */
  encrypt?: boolean;
  /** `true` (default when `encryptKey` is set): correct signature headers; `'bad'`: a wrong signature; `false`: none. */
  sign?: boolean | 'bad';
  /** Unix seconds for `X-Lark-Request-Timestamp` (default now), e.g. to send a stale request. */
  timestamp?: number;
  /** `X-Lark-Request-Nonce` (default random). */
  nonce?: string;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Abort after this many ms (default 5000). */
  timeoutMs?: number;
}

/** Result of {@link postFeishu}. */
export interface FeishuPostResult {
  status: number;
  /** The parsed JSON answer, or null when the body was empty or not JSON. */
  json: any;
  /** The raw answer. */
  text: string;
  /** `content-type` of the answer. */
  contentType: string | null;
}

/** POST an envelope to our server as Feishu does: JSON, optionally encrypted, signed over the exact bytes sent. */
export async function postFeishu(url: string, body: unknown, opts: PostFeishuOptions = {}): Promise<FeishuPostResult> {
  const key = opts.encryptKey;
  const encrypt = opts.encrypt ?? key !== undefined;
  if (encrypt && key === undefined) throw new Error('postFeishu: encrypt needs encryptKey');
  const payload = encrypt && key !== undefined ? encryptFeishu(key, body) : body;
  const raw = JSON.stringify(payload);
  const sign = opts.sign ?? key !== undefined;
  const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8', ...(opts.headers ?? {}) };
  if (sign) {
    if (key === undefined) throw new Error('postFeishu: sign needs encryptKey');
    const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const nonce = opts.nonce ?? randomBytes(8).toString('hex');
    Object.assign(headers, signFeishu(sign === 'bad' ? `${key}-wrong` : key, ts, nonce, raw));
  }
  const res = await fetch(url, { method: 'POST', headers, body: raw, signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) });
  const text = await res.text();
  let json: any = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, contentType: res.headers.get('content-type') };
}
