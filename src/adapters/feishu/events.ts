/**
 * What Feishu tells us, as Firebell's interactions (issue 5): messages to the bot (a direct
 * message, or an @mention in a group), the bot menu, and card callbacks. The same `handle` serves
 * the HTTP endpoints (after http.ts verified them) and the long connection (whose frames the SDK
 * has already authenticated), so both paths behave alike.
 *
 * Feishu redelivers an event it did not get an answer to (about 15 s, 5 min, 1 h, 6 h: PLATFORMS.md
 * "Delivery deadlines"), so every payload is claimed by its `event_id` first; messages are answered
 * `{}` at once and worked on after. A card callback must be answered within 3 s, with the toast.
 */
import type { FormContext, Interactions, Reply } from '../../flows/interactions';
import type { NeutralCard, NeutralForm } from '../../flows/messages/card';
import { t } from '../../flows/messages/catalog';
import type { FormValues } from '../../flows/messages/forms';
import { identify } from '../../flows/people';
import type { IncidentStore, Logger } from '../../flows/ports';
import type { Policy } from '../../flows/policy/policy';
import { localeOf } from '../../flows/policy/policy';
import { createWorkGate, type WorkGate } from '../../flows/work-gate';

/** Where a reply goes: the chat the person wrote in, quoting their message when there is one. */
export interface FeishuPlace {
  /** A chat id (`oc_…`), or a person's open_id (`ou_…`) for their own chat with the bot. */
  chatId: string;
  messageId?: string;
}

/** How the events handler answers people; implemented over the open-apis client by the port. */
export interface FeishuReplies {
  text(to: FeishuPlace, text: string): Promise<void>;
  card(to: FeishuPlace, card: NeutralCard): Promise<void>;
  /** Sends a form as a card to the person's own chat with the bot (by open_id). */
  form(openId: string, form: NeutralForm, context: FormContext): Promise<void>;
}

/** What a callback's `action.value` / `form_value` mean (render.ts owns the encoding). */
export interface FeishuCallbackCodec {
  decode(value: unknown): { actionId: string; value: string } | { formSubmit: true; form: string; context: string } | { formCancel: true; form: string; context: string } | null;
  readForm(formValue: unknown): FormValues;
}

export interface FeishuEventsOptions {
  interactions: Interactions;
  store: IncidentStore;
  policy: Policy;
  logger: Logger;
  replies: FeishuReplies;
  codec: FeishuCallbackCodec;
  /** The bot's own open_id, to drop its @mention from a group message (and ignore its own posts). */
  botOpenId?: string;
  /** How long a card callback may take before we answer with a toast and finish later (Feishu: 3 s). */
  callbackDeadlineMs?: number;
  /**
   * The clicked card as it is now, rendered for the callback answer (`card: {type:'raw', data}`),
   * or null when the message holds no incident card of ours. The outbox patches it too; this only
   * spares the clicker the wait.
   */
  currentCard?: (messageId: string) => Promise<Record<string, unknown> | null>;
  /** Where the work behind an acknowledged message waits its turn (and shutdown waits for it). */
  gate?: WorkGate;
}

type Json = Record<string, any>;

/** Feishu's answer to a card callback (PLATFORMS.md §5): a toast, optionally a replacement card. */
export interface CallbackAnswer {
  toast?: { type: 'info' | 'success' | 'error' | 'warning'; content: string };
  card?: { type: 'raw'; data: Record<string, unknown> };
}

const COMMAND_PREFIX = /^\/(incident|firebell)\b\s*/i;

/** A string field of a payload, or '' for anything else (an object's String() can throw). */
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');


/** The text of an `im.message.receive_v1` message with the bot's mention dropped and others named. */
export function messageText(message: Json, botOpenId?: string): string | null {
  if (message.message_type !== 'text' || typeof message.content !== 'string') return null;
  let text: string;
  try {
    const parsed = JSON.parse(message.content) as { text?: unknown };
    if (typeof parsed.text !== 'string') return null;
    text = parsed.text;
  } catch {
    return null;
  }
  const mentions: Json[] = Array.isArray(message.mentions) ? message.mentions : [];
  for (const m of mentions) {
    if (typeof m?.key !== 'string') continue;
    // In a group the bot is reached by an @mention; with no bot id known, the first one is it.
    const isBot = botOpenId ? m.id?.open_id === botOpenId : m === mentions[0];
    text = text.split(m.key).join(isBot ? '' : `@${str(m.name)}`);
  }
  return text.replace(/\s+/g, ' ').trim().replace(COMMAND_PREFIX, '');
}

export function createFeishuEvents(opts: FeishuEventsOptions) {
  const gate = opts.gate ?? createWorkGate(0);
  const { interactions, store, policy, logger, replies, codec } = opts;
  const deadline = opts.callbackDeadlineMs ?? 2_500;
  const ctx = (channel: string) => ({ platform: 'feishu' as const, channel, commandName: '/incident' });

  async function firstTime(key: string): Promise<boolean> {
    try {
      return await store.claimInbound(key, new Date().toISOString());
    } catch (err) {
      // The database is down: better to risk a duplicate than to drop what a person asked.
      logger.error('feishu dedupe unavailable', { error: (err as Error).message });
      return true;
    }
  }

  async function deliver(reply: Reply, place: FeishuPlace, openId: string, locale: ReturnType<typeof localeOf>) {
    if (reply.kind === 'text') await replies.text(place, reply.text);
    else if (reply.kind === 'card') await replies.card(place, reply.card);
    else {
      await replies.form(openId, reply.form, reply.context);
      if (place.chatId && reply.context.channel !== openId) await replies.text(place, t(locale, 'feishu.form_sent'));
    }
  }

  async function onMessage(event: Json) {
    const message: Json = event.message ?? {};
    const sender: Json = event.sender ?? {};
    const openId = sender.sender_id?.open_id;
    if (sender.sender_type !== 'user' || typeof openId !== 'string' || !message.chat_id) return;
    const person = identify(policy, 'feishu', openId);
    const locale = localeOf(policy, person.id);
    const place: FeishuPlace = { chatId: str(message.chat_id), ...(message.chat_type === 'group' && str(message.message_id) ? { messageId: str(message.message_id) } : {}) };
    const text = messageText(message, opts.botOpenId);
    let reply: Reply;
    try {
      reply = await interactions.command(person, text ?? 'help', ctx(place.chatId));
    } catch (err) {
      logger.error('feishu message failed', { error: (err as Error).message });
      await replies.text(place, t(locale, 'refuse.unavailable')).catch(() => {});
      return;
    }
    try {
      await deliver(reply, place, openId, locale);
    } catch (err) {
      // What was asked is done: only the answer did not get through. Quoting the message can fail
      // where posting cannot (a message recalled meanwhile), so try once more without the quote,
      // and never tell the person "nothing was changed" when something was.
      logger.warn('feishu reply failed', { error: (err as Error).message, quoted: !!place.messageId });
      if (place.messageId) await deliver(reply, { chatId: place.chatId }, openId, locale).catch((e: unknown) => logger.error('feishu reply failed again', { error: (e as Error).message }));
    }
    logger.info('feishu message handled', { reply: reply.kind, refused: reply.kind === 'text' && reply.refused });
  }

  /** The bot menu (console-configured, p2p only): its event_key is a command (`report`, `list`, …). */
  async function onMenu(event: Json) {
    const openId = event.operator?.operator_id?.open_id;
    const key = typeof event.event_key === 'string' ? event.event_key : '';
    if (typeof openId !== 'string') return;
    const person = identify(policy, 'feishu', openId, event.operator?.operator_name);
    const locale = localeOf(policy, person.id);
    try {
      // A menu has no chat of its own: answers go to the person's chat with the bot.
      const reply = await interactions.command(person, key === 'report' ? '' : key, ctx(openId));
      if (reply.kind === 'form') await replies.form(openId, reply.form, reply.context);
      else if (reply.kind === 'text') await replies.text({ chatId: openId }, reply.text);
      else await replies.card({ chatId: openId }, reply.card);
    } catch (err) {
      logger.error('feishu menu failed', { error: (err as Error).message });
      await replies.text({ chatId: openId }, t(locale, 'refuse.unavailable')).catch(() => {});
    }
  }

  async function onCardAction(event: Json): Promise<CallbackAnswer> {
    const openId = event.operator?.open_id;
    if (typeof openId !== 'string') return {};
    const person = identify(policy, 'feishu', openId);
    const locale = localeOf(policy, person.id);
    const chatId = str(event.context?.open_chat_id);
    const decoded = codec.decode(event.action?.value);
    const toast = (reply: Reply, fallbackOk: string): CallbackAnswer => {
      if (reply.kind === 'text') return { toast: { type: reply.refused ? 'error' : 'success', content: reply.text } };
      return { toast: { type: 'info', content: fallbackOk } };
    };
    if (!decoded) return { toast: { type: 'error', content: t(locale, 'refuse.bad_button') } };
    if ('formCancel' in decoded) return { toast: { type: 'info', content: t(locale, 'feishu.cancelled') } };
    if ('formSubmit' in decoded) {
      let context: FormContext;
      try {
        context = JSON.parse(decoded.context) as FormContext;
      } catch {
        return { toast: { type: 'error', content: t(locale, 'refuse.bad_button') } };
      }
      const result = await interactions.submit(person, context, codec.readForm(event.action?.form_value), ctx(chatId));
      if (!result.ok && 'fieldErrors' in result) {
        return { toast: { type: 'error', content: Object.values(result.fieldErrors).join('\n') } };
      }
      return toast(result.reply, t(locale, 'reply.done.default', { number: '' }));
    }
    const reply = await interactions.click(person, decoded.actionId, decoded.value, ctx(chatId));
    const messageId = typeof event.context?.open_message_id === 'string' ? event.context.open_message_id : '';
    if (reply.kind === 'text' && !reply.refused && messageId && opts.currentCard) {
      const card = await opts.currentCard(messageId).catch(() => null);
      if (card) return { ...toast(reply, ''), card: { type: 'raw', data: card } };
    }
    if (reply.kind === 'form') {
      await replies.form(openId, reply.form, reply.context);
      return { toast: { type: 'info', content: t(locale, 'feishu.form_sent') } };
    }
    if (reply.kind === 'card') {
      await replies.card({ chatId: openId }, reply.card);
      return {};
    }
    return toast(reply, '');
  }

  /** Handles one verified payload; resolves to the JSON answer. Never throws for bad input. */
  async function handle(payload: Json): Promise<unknown> {
    const header: Json = payload.header ?? {};
    const type = str(header.event_type) || str(payload.event?.type);
    const id = header.event_id ?? payload.uuid;
    if (typeof id === 'string' && id && !(await firstTime(`feishu:event:${id}`))) {
      logger.info('feishu duplicate delivery skipped', { eventId: id, type });
      return {};
    }
    const event: Json = payload.event ?? {};
    switch (type) {
      case 'im.message.receive_v1':
        void gate.run(() => onMessage(event)).catch((err: unknown) => logger.error('feishu message failed', { error: err instanceof Error ? err.message : String(err) }));
        return {};
      case 'application.bot.menu_v6':
        void gate.run(() => onMenu(event)).catch((err: unknown) => logger.error('feishu menu failed', { error: err instanceof Error ? err.message : String(err) }));
        return {};
      case 'card.action.trigger': {
        const work = onCardAction(event).catch((err: unknown): CallbackAnswer => {
          logger.error('feishu card action failed', { error: err instanceof Error ? err.message : String(err) });
          const locale = localeOf(policy, identify(policy, 'feishu', str(event.operator?.open_id)).id);
          return { toast: { type: 'error', content: t(locale, 'refuse.unavailable') } };
        });
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<CallbackAnswer>((resolve) => {
          timer = setTimeout(() => {
            const locale = localeOf(policy, identify(policy, 'feishu', str(event.operator?.open_id)).id);
            resolve({ toast: { type: 'info', content: t(locale, 'feishu.working') } });
          }, deadline);
        });
        const answer = await Promise.race([work, late]);
        clearTimeout(timer);
        return answer;
      }
      default:
        logger.debug('feishu event ignored', { type });
        return {};
    }
  }

  return { handle };
}
