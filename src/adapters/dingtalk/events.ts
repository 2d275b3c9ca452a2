/**
 * What DingTalk tells us, as Firebell's interactions (issue 6): robot messages (@robot in a group,
 * or a direct message) and interactive-card callbacks. The same functions serve Stream mode
 * (stream.ts acks each frame with what they return) and HTTP outgoing-robot callbacks (http.ts
 * verified them first), so both behave alike.
 *
 * DingTalk re-pushes a stream frame whose ack it did not get (about 60 s later, the same
 * messageId) and an HTTP callback may be retried, so every delivery is claimed first: by the
 * robot message's `msgId` (the same on both transports) or the frame's messageId.
 */
import type { Interactions, Reply } from '../../flows/interactions';
import { t } from '../../flows/messages/catalog';
import { identify } from '../../flows/people';
import type { IncidentStore, Logger } from '../../flows/ports';
import type { Policy } from '../../flows/policy/policy';
import { localeOf } from '../../flows/policy/policy';
import type { DingTalkPort } from './port';
import { toWebhookBody } from './port';
import { renderActionCard, renderFormText, renderText } from './render';
import type { DingTalkClient } from './client';

type Json = Record<string, any>;

export interface DingTalkEventsOptions {
  interactions: Interactions;
  store: IncidentStore;
  policy: Policy;
  logger: Logger;
  port: DingTalkPort;
  client: DingTalkClient;
  /** The card as it now is, as template parameters, for the card a click came from (by outTrackId). */
  currentCard?: (outTrackId: string) => Promise<Record<string, string> | null>;
  now?: () => number;
}

/** The answer to a card callback (`socketCallBackResponse` data, or the HTTP body). */
export interface CardCallbackAnswer {
  cardUpdateOptions?: { updateCardDataByKey: boolean };
  cardData?: { cardParamMap: Record<string, string> };
}

const COMMAND_PREFIX = /^\/(incident|firebell)\b\s*/i;

/** A string field of a payload, or '' for anything else (an object's String() can throw). */
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');


/** The text of a robot message: the @robot part is already removed by DingTalk; ours trimmed. */
export function robotText(msg: Json): string | null {
  if (msg.msgtype !== 'text' || typeof msg.text?.content !== 'string') return null;
  return msg.text.content.replace(/\s+/g, ' ').trim().replace(COMMAND_PREFIX, '');
}

export function createDingTalkEvents(opts: DingTalkEventsOptions) {
  const { interactions, store, policy, logger, port, client } = opts;
  const now = opts.now ?? Date.now;
  const ctx = (channel: string) => ({ platform: 'dingtalk' as const, channel, commandName: '@Firebell' });

  async function firstTime(key: string): Promise<boolean> {
    try {
      return await store.claimInbound(key, new Date().toISOString());
    } catch (err) {
      // The database is down: better to risk a duplicate than to drop what a person asked.
      logger.error('dingtalk dedupe unavailable', { error: (err as Error).message });
      return true;
    }
  }

  /** Answers in the chat the message came from: its sessionWebhook while valid, else the robot API. */
  async function answer(msg: Json, reply: Reply, locale: ReturnType<typeof localeOf>) {
    const group = msg.conversationType === '2';
    const place = group ? { type: 'channel' as const, id: str(msg.conversationId) } : { type: 'user' as const, id: str(msg.senderStaffId) };
    const viaSession = async (msgKey: string, msgParam: Record<string, string>) => {
      const expires = Number(msg.sessionWebhookExpiredTime ?? 0);
      if (typeof msg.sessionWebhook === 'string' && expires > now() + 5_000) {
        try {
          await client.session(msg.sessionWebhook, toWebhookBody(msgKey, msgParam));
          return;
        } catch (err) {
          logger.warn('dingtalk session reply failed, using the robot API', { error: (err as Error).message });
        }
      }
      await port.sendRobot(place, msgKey, msgParam);
    };
    if (reply.kind === 'text') {
      const r = renderText(reply.text);
      return viaSession(r.msgKey, r.msgParam);
    }
    if (reply.kind === 'form') {
      const incident = reply.context.incidentId ? await store.get(reply.context.incidentId) : null;
      const r = renderText(renderFormText(reply.form, incident?.number ?? null, locale));
      return viaSession(r.msgKey, r.msgParam);
    }
    if (port.templated) {
      await port.postCard(place, reply.card);
      return;
    }
    const r = renderActionCard(reply.card, { locale });
    return viaSession(r.msgKey, r.msgParam);
  }

  /** A robot message. Resolves once it was handled (Stream mode acks after this). Never throws. */
  async function onRobotMessage(msg: Json): Promise<void> {
    const staffId = msg.senderStaffId;
    if (typeof staffId !== 'string' || !staffId) return;
    if (typeof msg.msgId === 'string' && msg.msgId && !(await firstTime(`dingtalk:msg:${msg.msgId}`))) {
      logger.info('dingtalk duplicate message skipped', { msgId: msg.msgId });
      return;
    }
    const person = identify(policy, 'dingtalk', staffId, typeof msg.senderNick === 'string' ? msg.senderNick : undefined);
    const locale = localeOf(policy, person.id);
    const channel = msg.conversationType === '2' ? str(msg.conversationId) : staffId;
    let reply: Reply;
    try {
      reply = await interactions.command(person, robotText(msg) ?? 'help', ctx(channel));
    } catch (err) {
      logger.error('dingtalk message failed', { error: (err as Error).message });
      await answer(msg, { kind: 'text', text: t(locale, 'refuse.unavailable'), refused: true }, locale).catch(() => {});
      return;
    }
    try {
      await answer(msg, reply, locale);
      logger.info('dingtalk message handled', { reply: reply.kind, refused: reply.kind === 'text' && reply.refused });
    } catch (err) {
      // What was asked is done; only the answer did not get through.
      logger.error('dingtalk reply failed', { error: (err as Error).message });
    }
  }

  /** Tells one person something privately (refusals of a click, a form's instructions). */
  async function tell(staffId: string, text: string) {
    const r = renderText(text);
    await port.sendRobot({ type: 'user', id: staffId }, r.msgKey, r.msgParam).catch((err: unknown) => logger.error('dingtalk private answer failed', { error: (err as Error).message }));
  }

  /**
   * An interactive-card callback: `content` holds `cardPrivateData.params` = `{action, value}` (our
   * template's buttons). A success answers with the card as it now is; a refusal or a form is
   * told to the person privately. Never throws.
   */
  async function onCardCallback(cb: Json, deliveryId?: string): Promise<CardCallbackAnswer> {
    const staffId = cb.userId;
    if (typeof staffId !== 'string' || !staffId) return {};
    if (deliveryId && !(await firstTime(`dingtalk:card:${deliveryId}`))) return {};
    const person = identify(policy, 'dingtalk', staffId);
    const locale = localeOf(policy, person.id);
    let params: Json = {};
    try {
      const content = typeof cb.content === 'string' ? JSON.parse(cb.content) : (cb.content ?? {});
      params = content?.cardPrivateData?.params ?? {};
    } catch {
      params = {};
    }
    if (typeof params.action !== 'string' || typeof params.value !== 'string') {
      await tell(staffId, t(locale, 'refuse.bad_button'));
      return {};
    }
    const channel = str(cb.spaceId) || str(cb.openConversationId);
    let reply: Reply;
    try {
      reply = await interactions.click(person, params.action, params.value, ctx(channel));
    } catch (err) {
      logger.error('dingtalk card action failed', { error: (err as Error).message });
      await tell(staffId, t(locale, 'refuse.unavailable'));
      return {};
    }
    if (reply.kind === 'form') {
      const incident = reply.context.incidentId ? await store.get(reply.context.incidentId) : null;
      await tell(staffId, renderFormText(reply.form, incident?.number ?? null, locale));
      return {};
    }
    if (reply.kind === 'card') {
      await port.postCard({ type: 'user', id: staffId }, reply.card).catch(() => {});
      return {};
    }
    if (reply.refused) {
      await tell(staffId, reply.text);
      return {};
    }
    // Success shows on the card itself (no toast on DingTalk); the outbox updates it for everyone.
    const current = typeof cb.outTrackId === 'string' && opts.currentCard ? await opts.currentCard(cb.outTrackId).catch(() => null) : null;
    return current ? { cardUpdateOptions: { updateCardDataByKey: true }, cardData: { cardParamMap: current } } : {};
  }

  return { onRobotMessage, onCardCallback };
}

export type DingTalkEvents = ReturnType<typeof createDingTalkEvents>;
