/**
 * Inbound DingTalk payloads, shaped exactly as DingTalk sends them to OUR bot (see /work/shared/PLATFORMS.md §7a, §7b
 * and the verified experiment platform-experiments/ding-test.mjs):
 *
 * - {@link robotMessage}: the robot message a user's chat message becomes (`TOPIC_ROBOT` = `/v1.0/im/bot/messages/get`
 *   over Stream; the same JSON is the body of an HTTP-mode robot callback). Field set from `RobotTextMessage` in
 *   `dingtalk-stream/dist/constants.d.ts`, the Go SDK's `chatbot.BotCallbackDataModel`, and a frame captured from the
 *   real gateway in the Node SDK's source comments (`client.ts`, `onDownStream`).
 * - {@link cardCallback}: an interactive-card action (`TOPIC_CARD` = `/v1.0/card/instances/callback`). Field set from
 *   open-dingtalk/dingtalk-card-examples (`JSON.parse(message.content).cardPrivateData.params`), the Go SDK's
 *   `card.CardRequest`, and the real callback captured in the Python SDK's `card_callback_message.py`.
 * - {@link signDingTalk} / {@link postDingTalk}: the `timestamp` / `sign` headers of an HTTP-mode robot callback.
 *
 * Push the first two through the fake gateway (`fake.push(TOPIC_ROBOT, robotMessage(…))`, test/fakes/dingtalk-stream.ts)
 * or POST them with {@link postDingTalk}.
 */
import { createHmac, randomBytes } from 'node:crypto';

/**
 * Identities shared by the builders and the fake gateway. For an enterprise-internal app the robot's `robotCode` is the
 * app's AppKey, which is also the Stream `clientId` (DingTalk console "机器人 → RobotCode").
 */
export const DINGTALK_DEFAULTS = {
  /** AppKey / Stream `clientId` (also the default `robotCode`). */
  clientId: 'dingfirebellbot0001',
  /** AppSecret / Stream `clientSecret`; also the key of the HTTP-mode `sign` header. */
  clientSecret: 'firebell-ding-app-secret-0123456789abcdef',
  /** The org's corpId (`chatbotCorpId`, `senderCorpId`, card `corpId`). */
  corpId: 'dingfirebellcorp0001',
  /** The bot's encrypted user id in this org (`chatbotUserId`, and its `atUsers[].dingtalkId`). */
  chatbotUserId: '$:LWCP_v1:$firebellBotUserId0000000000',
} as const;

function lwcp(seed: string): string {
  // DingTalk's encrypted user ids look like `$:LWCP_v1:$` + base64 (e.g. `$:LWCP_v1:$+PxJZVhRkpC139mPH6L7aw==`).
  return `$:LWCP_v1:$${Buffer.from(`fb:${seed}`).toString('base64')}`;
}

// ---------------------------------------------------------------------------------------------
// Robot messages
// ---------------------------------------------------------------------------------------------

/** A user mentioned in a group message (`atUsers[]`): `dingtalkId` is the encrypted id, `staffId` the org userid. */
export interface DingTalkAtUser {
  dingtalkId: string;
  staffId?: string;
}

/** Input of {@link robotMessage}. */
export interface RobotMessageInput {
  /** The sender's userid in the org (`senderStaffId`). */
  staffId: string;
  /** `senderNick` (default: `staffId`). */
  nick?: string;
  /** `cid…==`: the group's (or the 1:1 chat's) conversation id. */
  conversationId: string;
  /** `'1'` = 1:1 chat with the bot, `'2'` = group. */
  conversationType: '1' | '2';
  /** What the user typed, WITHOUT the `@BotName` (DingTalk removes it; see {@link robotMessage}). */
  text: string;
  /**
   * Whether the bot was @mentioned (default `true` in groups, where DingTalk only delivers messages that @mention the
   * bot; ignored for 1:1 chats unless {@link RobotMessageInput.isInAtList} is set).
   */
  atBot?: boolean;
  /** Other people @mentioned in a group message (added to `atUsers` after the bot). */
  atUsers?: DingTalkAtUser[];
  /** Overrides `isInAtList` (default: `atBot` in groups; absent in 1:1 chats). */
  isInAtList?: boolean;
  /** Group name (`conversationTitle`, groups only; default `Firebell Ops`). */
  conversationTitle?: string;
  /** `sessionWebhook` (default `https://oapi.dingtalk.com/robot/sendBySession?session=<random>`); point it at a fake. */
  sessionWebhook?: string;
  /** `sessionWebhookExpiredTime` in ms (default `createAt` + 20 min, the lifetime in the captured real frame). */
  sessionWebhookExpiredTime?: number;
  /** `msgId` (default random `msg…==`): the dedupe key of a message (a retried callback carries the same one). */
  msgId?: string;
  /** `robotCode` (default {@link DINGTALK_DEFAULTS}.clientId). */
  robotCode?: string;
  /** `chatbotCorpId` / `senderCorpId` (default {@link DINGTALK_DEFAULTS}.corpId). */
  corpId?: string;
  /** `senderId`: the sender's encrypted id (default derived from `staffId`). */
  senderId?: string;
  /** `chatbotUserId` (default {@link DINGTALK_DEFAULTS}.chatbotUserId). */
  chatbotUserId?: string;
  /** `isAdmin` (default false). */
  isAdmin?: boolean;
  /** `createAt` in ms (default now). */
  createAt?: number;
  /** `senderPlatform` (e.g. `Mac`, `iOS`); only included when given. */
  senderPlatform?: string;
}

/** A text robot message as DingTalk sends it (the `RobotTextMessage` of `dingtalk-stream`, plus the documented extras). */
export interface DingTalkRobotMessage {
  conversationId: string;
  atUsers?: DingTalkAtUser[];
  chatbotCorpId: string;
  chatbotUserId: string;
  msgId: string;
  senderNick: string;
  isAdmin: boolean;
  senderStaffId: string;
  sessionWebhookExpiredTime: number;
  createAt: number;
  senderCorpId: string;
  conversationType: '1' | '2';
  senderId: string;
  conversationTitle?: string;
  isInAtList?: boolean;
  sessionWebhook: string;
  text: { content: string };
  robotCode: string;
  msgtype: 'text';
  senderPlatform?: string;
}

/**
 * A text robot message (`msgtype: 'text'`).
 *
 * In a group (`'2'`) the bot only receives messages that @mention it; DingTalk removes the `@BotName` from the text and
 * leaves the space that followed it, so `text.content` starts with a space (`" declare sev1 db down"`), the bot is the
 * first `atUsers` entry (with `dingtalkId` only, as in the captured frame) and `isInAtList` is true.
 *
 * A 1:1 chat (`'1'`) gets every message, as typed, without `conversationTitle` or `atUsers`; `isInAtList` is left out
 * there (unverified what DingTalk sends; production code must not rely on it for 1:1 chats).
 */
export function robotMessage(input: RobotMessageInput): DingTalkRobotMessage {
  const createAt = input.createAt ?? Date.now();
  const group = input.conversationType === '2';
  const atBot = group && (input.atBot ?? true);
  const chatbotUserId = input.chatbotUserId ?? DINGTALK_DEFAULTS.chatbotUserId;
  const corpId = input.corpId ?? DINGTALK_DEFAULTS.corpId;
  const content = atBot && !input.text.startsWith(' ') ? ` ${input.text}` : input.text;
  const atUsers: DingTalkAtUser[] = [...(atBot ? [{ dingtalkId: chatbotUserId }] : []), ...(input.atUsers ?? [])];
  const isInAtList = input.isInAtList ?? (group ? atBot : undefined);
  return {
    conversationId: input.conversationId,
    ...(group || input.atUsers ? { atUsers } : {}),
    chatbotCorpId: corpId,
    chatbotUserId,
    msgId: input.msgId ?? `msg${randomBytes(16).toString('base64').replace(/=+$/, '')}==`,
    senderNick: input.nick ?? input.staffId,
    isAdmin: input.isAdmin ?? false,
    senderStaffId: input.staffId,
    sessionWebhookExpiredTime: input.sessionWebhookExpiredTime ?? createAt + 20 * 60_000,
    createAt,
    senderCorpId: corpId,
    conversationType: input.conversationType,
    senderId: input.senderId ?? lwcp(input.staffId),
    ...(group ? { conversationTitle: input.conversationTitle ?? 'Firebell Ops' } : {}),
    ...(isInAtList !== undefined ? { isInAtList } : {}),
    sessionWebhook: input.sessionWebhook ?? `https://oapi.dingtalk.com/robot/sendBySession?session=${randomBytes(16).toString('hex')}`,
    text: { content },
    robotCode: input.robotCode ?? DINGTALK_DEFAULTS.clientId,
    msgtype: 'text',
    ...(input.senderPlatform !== undefined ? { senderPlatform: input.senderPlatform } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Card callbacks
// ---------------------------------------------------------------------------------------------

/** Input of {@link cardCallback}. */
export interface CardCallbackInput {
  /** Who clicked (their userid in the org). */
  userId: string;
  /** The card instance's `outTrackId` (chosen by us in `createAndDeliver`). */
  outTrackId: string;
  /** The clicked component's callback params (`cardPrivateData.params`; a form submit carries its inputs here). */
  params: Record<string, unknown>;
  /** Ids of the triggering components (`cardPrivateData.actionIds`; default `[]`). */
  actionIds?: string[];
  /**
   * Where the card lives. Seen: `""` in the Python SDK's captured callback; the delivery spaces are `IM_GROUP` /
   * `IM_ROBOT` (`openSpaceId: dtv1.card//IM_GROUP.<cid>`). What DingTalk reports for each is unverified.
   */
  spaceType: string;
  /** The space id (e.g. the group's openConversationId; `""` in the captured callback). */
  spaceId: string;
  /** `corpId` (default {@link DINGTALK_DEFAULTS}.corpId). */
  corpId?: string;
  /** `extension` object (sent JSON-encoded; default `{}`). */
  extension?: Record<string, unknown>;
  /** `userIdType` (1 = userid in the captured callback). */
  userIdType?: number;
}

/** A card action callback as DingTalk sends it (`content` and `value` are JSON strings). */
export interface DingTalkCardCallback {
  extension: string;
  corpId: string;
  spaceType: string;
  userIdType: number;
  type: 'actionCallback';
  userId: string;
  /** `JSON.stringify({ cardPrivateData: { actionIds, params } })`. */
  content: string;
  spaceId: string;
  outTrackId: string;
  /** The same JSON as `content` (present in the captured real callback). */
  value: string;
}

/**
 * A card action callback (button press / form submit on an interactive card delivered with `callbackType: 'STREAM'`).
 * Answer it with `client.socketCallBackResponse(messageId, { cardUpdateOptions, cardData: { cardParamMap }, userPrivateData })`,
 * every `cardParamMap` value a string (PLATFORMS.md §7a).
 */
export function cardCallback(input: CardCallbackInput): DingTalkCardCallback {
  const content = JSON.stringify({ cardPrivateData: { actionIds: input.actionIds ?? [], params: input.params } });
  return {
    extension: JSON.stringify(input.extension ?? {}),
    corpId: input.corpId ?? DINGTALK_DEFAULTS.corpId,
    spaceType: input.spaceType,
    userIdType: input.userIdType ?? 1,
    type: 'actionCallback',
    userId: input.userId,
    content,
    spaceId: input.spaceId,
    outTrackId: input.outTrackId,
    value: content,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP-mode robot callbacks
// ---------------------------------------------------------------------------------------------

/**
 * The `sign` header of an HTTP-mode robot callback: `base64(HMAC_SHA256(key = appSecret, timestamp + "\n" + appSecret))`
 * (DingTalk docs "企业内部机器人接收消息"; the same construction as the group webhook robot's 加签, without URL-encoding).
 * @param timestamp milliseconds, as sent in the `timestamp` header
 */
export function signDingTalk(appSecret: string, timestamp: string | number): string {
  return createHmac('sha256', appSecret).update(`${timestamp}\n${appSecret}`, 'utf8').digest('base64');
}

/** Options for {@link postDingTalk}. */
export interface PostDingTalkOptions {
  /** The app's AppSecret (signing key). */
  appSecret?: string;
  /** `timestamp` header in ms (default now), e.g. a stale one (DingTalk's window is 1 hour). */
  timestamp?: number;
  /** `true` (default when `appSecret` is set): correct `sign`; `'bad'`: a wrong one; `false`: no `timestamp`/`sign`. */
  sign?: boolean | 'bad';
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Abort after this many ms (default 5000). */
  timeoutMs?: number;
}

/** Result of {@link postDingTalk}. */
export interface DingTalkPostResult {
  status: number;
  /** The parsed JSON answer, or null when empty / not JSON. */
  json: any;
  /** The raw answer. */
  text: string;
  contentType: string | null;
}

/** POST a robot message to our HTTP-mode endpoint as DingTalk does: JSON body, `timestamp` + `sign` headers. */
export async function postDingTalk(url: string, body: unknown, opts: PostDingTalkOptions = {}): Promise<DingTalkPostResult> {
  const raw = JSON.stringify(body);
  const sign = opts.sign ?? opts.appSecret !== undefined;
  const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8', ...(opts.headers ?? {}) };
  if (sign) {
    if (opts.appSecret === undefined) throw new Error('postDingTalk: sign needs appSecret');
    const ts = String(opts.timestamp ?? Date.now());
    headers.timestamp = ts;
    headers.sign = signDingTalk(sign === 'bad' ? `${opts.appSecret}-wrong` : opts.appSecret, ts);
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
