/**
 * ChatPort over DingTalk (issue 6). Cards are interactive cards from the configured card
 * template (`POST /v1.0/card/instances/createAndDeliver`, then `PUT /v1.0/card/instances` by
 * outTrackId; every value a string). Without a template, a card is a robot ActionCard whose
 * buttons are `dtmd://dingtalkclient/sendMessage` links that type the action's command, so every
 * action can still be taken; robot messages cannot be edited, so a changed card is posted again
 * when what it offers changes. War rooms are scene groups from the configured scene-group
 * template (`topapi/im/chat/scenegroup/create`, idempotent by `uuid`), whose robot posts the summary.
 *
 * Targets: a group is its openConversationId (`cid…`), a person their staff id (userid).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Target } from '../../flows/effects';
import type { NeutralCard } from '../../flows/messages/card';
import { truncate } from '../../flows/messages/format';
import { ChatDeliveryError, type ChatPort, type Logger, type PostedMessage, type RoomPort } from '../../flows/ports';
import type { Locale, Policy } from '../../flows/policy/policy';
import { toDingTalkDeliveryError, type DingTalkClient } from './client';
import { renderActionCard, renderCardParams, renderText } from './render';

/** Scene-group titles: DingTalk refuses long ones; 30 characters is the safe bound. */
export const ROOM_TITLE_MAX = 30;
/** `scenegroup/member/add` takes user ids comma-separated; 20 per call keeps each request small. */
const MEMBER_BATCH = 20;

export interface DingTalkPortOptions {
  /** The robot's code (an internal app's robot: its AppKey). */
  robotCode: string;
  /** Interactive card template id (`….schema`); without one, cards are ActionCards. */
  cardTemplateId?: string;
  /** Scene-group template id: war rooms are created from it. Without one, no war rooms. */
  sceneTemplateId?: string;
  /** The staff id that owns war-room groups (DingTalk needs an owner). */
  roomOwner?: string;
  locale: Locale;
  /** `STREAM` (card callbacks on the stream connection, the default) or `HTTP`. */
  callbackType?: 'STREAM' | 'HTTP';
}

/** A robot message (msgKey + msgParam) as a `sessionWebhook` body (`msgtype` + its object). */
export function toWebhookBody(msgKey: string, msgParam: Record<string, string>): Record<string, unknown> {
  if (msgKey === 'sampleText') return { msgtype: 'text', text: { content: msgParam.content ?? '' } };
  if (msgKey === 'sampleMarkdown') return { msgtype: 'markdown', markdown: { title: msgParam.title ?? '', text: msgParam.text ?? '' } };
  if (msgKey === 'sampleActionCard') {
    return { msgtype: 'actionCard', actionCard: { title: msgParam.title ?? '', text: msgParam.text ?? '', singleTitle: msgParam.singleTitle ?? '', singleURL: msgParam.singleURL ?? '' } };
  }
  const btns: { title: string; actionURL: string }[] = [];
  for (let i = 1; msgParam[`actionTitle${i}`] !== undefined; i++) btns.push({ title: msgParam[`actionTitle${i}`]!, actionURL: msgParam[`actionURL${i}`] ?? '' });
  return { msgtype: 'actionCard', actionCard: { title: msgParam.title ?? '', text: msgParam.text ?? '', btns, btnOrientation: '0' } };
}

/** What a fallback card offers: when it changes, the card is posted again. */
function offerSignature(card: NeutralCard): string {
  return createHash('sha256')
    .update(JSON.stringify([card.title, card.outcome, card.buttons.map((b) => [b.actionId, b.label, b.value.split('|')[2] ?? ''])]))
    .digest('hex');
}

export interface DingTalkPort extends ChatPort {
  readonly platform: 'dingtalk';
  /** Sends a robot message (msgKey/msgParam) to a group or a person. */
  sendRobot(target: Target, msgKey: string, msgParam: Record<string, string>): Promise<PostedMessage>;
  /** The card template's parameters for a card (the card callback answers with them). */
  cardParams(card: NeutralCard): Record<string, string>;
  readonly templated: boolean;
}

export function createDingTalkPort(client: DingTalkClient, logger: Logger, opts: DingTalkPortOptions): DingTalkPort {
  const { robotCode, locale } = opts;
  // Fallback cards: what each posted card offered (robot messages cannot be edited). Lost on a
  // restart, which costs one repeated card, never a missing one.
  const offered = new Map<string, string>();
  const remember = (messageId: string, signature: string) => {
    offered.delete(messageId);
    offered.set(messageId, signature);
    // Bounded: the oldest cards are forgotten first (a forgotten one is posted again once, at worst).
    if (offered.size > 10_000) offered.delete(offered.keys().next().value!);
  };

  const call = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      throw toDingTalkDeliveryError(err);
    }
  };

  async function sendRobot(target: Target, msgKey: string, msgParam: Record<string, string>): Promise<PostedMessage> {
    const param = JSON.stringify(msgParam);
    if (target.type === 'user') {
      const r = await call(() => client.api('POST', '/v1.0/robot/oToMessages/batchSend', { robotCode, userIds: [target.id], msgKey, msgParam: param }));
      const limited: string[] = r.flowControlledStaffIdList ?? [];
      const invalid: string[] = r.invalidStaffIdList ?? [];
      // Flow control holds a person's messages back for a while: wait and send again.
      if (limited.includes(target.id)) throw new ChatDeliveryError('dingtalk flow-controlled user', 60_000, false, true);
      if (invalid.includes(target.id)) throw new ChatDeliveryError(`dingtalk invalid staff id ${target.id}`, null, true);
      return { channel: target.id, messageId: String(r.processQueryKey ?? randomUUID()) };
    }
    const r = await call(() => client.api('POST', '/v1.0/robot/groupMessages/send', { robotCode, openConversationId: target.id, msgKey, msgParam: param }));
    return { channel: target.id, messageId: String(r.processQueryKey ?? randomUUID()) };
  }

  function cardParams(card: NeutralCard): Record<string, string> {
    const r = renderCardParams(card, { locale });
    if (r.warnings.length) logger.warn('dingtalk card trimmed to fit limits', { warnings: r.warnings });
    return r.params;
  }

  async function postTemplateCard(target: Target, card: NeutralCard): Promise<PostedMessage> {
    const outTrackId = `fb-${randomUUID()}`;
    const space =
      target.type === 'user'
        ? { openSpaceId: `dtv1.card//IM_ROBOT.${target.id}`, imRobotOpenSpaceModel: { supportForward: false }, imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT', robotCode } }
        : { openSpaceId: `dtv1.card//IM_GROUP.${target.id}`, imGroupOpenSpaceModel: { supportForward: true }, imGroupOpenDeliverModel: { robotCode } };
    const r = await call(() =>
      client.api('POST', '/v1.0/card/instances/createAndDeliver', {
        cardTemplateId: opts.cardTemplateId,
        outTrackId,
        callbackType: opts.callbackType ?? 'STREAM',
        cardData: { cardParamMap: cardParams(card) },
        ...space,
      }),
    );
    const failed = (r.result?.deliverResults ?? []).find((d: { success?: boolean }) => d.success === false);
    if (failed) throw new ChatDeliveryError(`dingtalk card not delivered: ${String(failed.errorMsg ?? '')}`, null, false);
    return { channel: target.id, messageId: outTrackId };
  }

  async function postFallbackCard(target: Target, card: NeutralCard): Promise<PostedMessage> {
    const r = renderActionCard(card, { locale });
    if (r.warnings.length) logger.warn('dingtalk action card trimmed', { warnings: r.warnings });
    const posted = await sendRobot(target, r.msgKey, r.msgParam);
    remember(posted.messageId, offerSignature(card));
    return posted;
  }

  const rooms: RoomPort | undefined = opts.sceneTemplateId
    ? {
        roomName(number, title, _prefix, attempt) {
          const suffix = attempt > 0 ? ` (${attempt + 1})` : '';
          return truncate(`${number} ${title}`.trim(), ROOM_TITLE_MAX - suffix.length) + suffix;
        },
        async createRoom(name) {
          if (!opts.roomOwner) throw new ChatDeliveryError('dingtalk war room needs an owner: set DINGTALK_ROOM_OWNER or an incident manager with a dingtalk account', null, true);
          // uuid makes the create idempotent: a create whose answer was lost returns the same group.
          const uuid = createHash('sha256').update(`firebell-room:${name}`).digest('hex').slice(0, 32);
          const r = await call(() =>
            client.oapi('/topapi/im/chat/scenegroup/create', {
              title: name,
              template_id: opts.sceneTemplateId,
              owner_user_id: opts.roomOwner,
              user_ids: opts.roomOwner,
              uuid,
              mention_all_authority: 0,
              show_history_type: 1,
              validation_type: 0,
              searchable: 0,
              chat_banned_type: 0,
              management_type: 0,
            }),
          );
          return { channel: String(r.result?.open_conversation_id) };
        },
        async findOwnRoom() {
          return null;
        },
        async describeRoom() {
          // Scene groups have no topic or description to set; the pinned-summary role is played
          // by the summary card the robot posts, and the template carries the group's settings.
        },
        async inviteToRoom(channel, users) {
          for (let i = 0; i < users.length; i += MEMBER_BATCH) {
            const batch = users.slice(i, i + MEMBER_BATCH);
            await call(() => client.oapi('/topapi/im/chat/scenegroup/member/add', { open_conversation_id: channel, user_ids: batch.join(',') }));
          }
          return { failed: [] };
        },
        async pin() {
          // Robots cannot pin in DingTalk groups; the summary is the group's first card and is kept current.
        },
        async archiveRoom(channel) {
          logger.info('dingtalk war room left as it is (DingTalk has no archive for scene groups)', { channel });
        },
      }
    : undefined;

  return {
    platform: 'dingtalk',
    templated: !!opts.cardTemplateId,
    ...(rooms ? { rooms } : {}),
    sendRobot,
    cardParams,
    postCard: (target, card) => (opts.cardTemplateId ? postTemplateCard(target, card) : postFallbackCard(target, card)),
    async updateCard(message, card) {
      if (opts.cardTemplateId) {
        await call(() =>
          client.api('PUT', '/v1.0/card/instances', {
            outTrackId: message.messageId,
            cardData: { cardParamMap: cardParams(card) },
            cardUpdateOptions: { updateCardDataByKey: true },
          }),
        );
        return;
      }
      // A robot message cannot be edited: post the card again only when what it offers changed.
      const signature = offerSignature(card);
      if (offered.get(message.messageId) === signature) return;
      const r = renderActionCard(card, { locale });
      await sendRobot({ type: message.channel.startsWith('cid') ? 'channel' : 'user', id: message.channel }, r.msgKey, r.msgParam);
      remember(message.messageId, signature);
    },
    async sendText(target, text) {
      // DingTalk has no threads: a reply under a card is a message in the same chat.
      const r = renderText(text);
      return sendRobot(target, r.msgKey, r.msgParam);
    },
  };
}

/**
 * Fills in the DingTalk staff id of configured people who have a mobile but no `dingtalk:`
 * account (`topapi/v2/user/getbymobile`, once at start; DingTalk has no lookup by e-mail).
 * Returns how many were found; never throws.
 */
export async function resolveDingTalkPeople(client: DingTalkClient, policy: Policy, logger: Logger): Promise<number> {
  let found = 0;
  for (const person of Object.values(policy.people)) {
    if (person.accounts.dingtalk || !person.mobile) continue;
    try {
      const r = await client.oapi('/topapi/v2/user/getbymobile', { mobile: person.mobile.replace(/^\+86/, '') });
      const userid = r.result?.userid;
      if (typeof userid === 'string' && userid) {
        person.accounts.dingtalk = userid;
        found++;
      } else logger.warn('dingtalk user not found by mobile', { person: person.key });
    } catch (err) {
      logger.warn('dingtalk user not found by mobile', { person: person.key, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return found;
}
