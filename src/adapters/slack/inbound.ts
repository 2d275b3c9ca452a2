import { App, HTTPReceiver, LogLevel, type BlockAction, type ButtonAction, type SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { FormContext, Interactions, Reply } from '../../flows/interactions';
import { ACTION_IDS } from '../../flows/messages/card';
import { t } from '../../flows/messages/catalog';
import { identify } from '../../flows/people';
import type { IncidentStore, Logger } from '../../flows/ports';
import type { Policy } from '../../flows/policy/policy';
import { localeOf } from '../../flows/policy/policy';
import { createWorkGate, type WorkGate } from '../../flows/work-gate';
import { FORM_CALLBACK_ID, neutralActionId, readModalValues, renderCard, renderModal } from './render';


export interface SlackAppOptions {
  botToken: string;
  signingSecret?: string;
  /** Socket Mode when set (no public URL needed). */
  appToken?: string;
  /** Web API base, e.g. a local fake `http://127.0.0.1:PORT/api/`. */
  apiUrl?: string;
  interactions: Interactions;
  store: IncidentStore;
  policy: Policy;
  logger: Logger;
  /** Bot identity, so Bolt does not call auth.test at construction (it would crash with no network). */
  botId?: string;
  botUserId?: string;
  /** Bounds the work behind acknowledged commands and clicks (default: no bound). */
  gate?: WorkGate;
}

/** How long a view submission may take before we stop waiting and answer through a message (Slack allows 3 s). */
const VIEW_DEADLINE_MS = 2_000;

function boltLogger(logger: Logger) {
  return {
    debug: (...m: unknown[]) => logger.debug(m.map(String).join(' ')),
    info: (...m: unknown[]) => logger.debug(m.map(String).join(' ')),
    warn: (...m: unknown[]) => logger.warn(m.map(String).join(' ')),
    error: (...m: unknown[]) => logger.error(m.map(String).join(' ')),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}

async function withDeadline<T>(work: Promise<T>, ms: number): Promise<{ done: true; value: T } | { done: false; later: Promise<T> }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const winner = await Promise.race([work.then((value) => ({ value })), timeout]);
  clearTimeout(timer);
  return winner === 'timeout' ? { done: false, later: work } : { done: true, value: winner.value };
}

function parseFormContext(raw: unknown): FormContext | null {
  if (typeof raw !== 'string') return null;
  try {
    const c = JSON.parse(raw) as FormContext;
    const okForm = c.formId === 'report' || (ACTION_IDS as readonly string[]).includes(c.formId);
    if (!okForm || typeof c.channel !== 'string') return null;
    if (c.incidentId !== null && typeof c.incidentId !== 'string') return null;
    if (c.version !== null && typeof c.version !== 'number') return null;
    return c;
  } catch {
    return null;
  }
}

/**
 * The Slack app: slash commands, buttons and modals over HTTP (`POST /slack/events`) or Socket
 * Mode. Every request is signature-checked by Bolt before it is parsed, acknowledged first
 * (Slack's 3 s deadline), de-duplicated, and answered to the person in their language.
 */
export function createSlackApp(opts: SlackAppOptions) {
  const { interactions, store, policy, logger } = opts;
  const gate = opts.gate ?? createWorkGate(0);
  const socketMode = Boolean(opts.appToken);
  const clientOptions = {
    ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}),
    // Interactive calls (views.open) must land inside the trigger's 3 s life: no slow retries.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  };
  const receiver = socketMode
    ? undefined
    : new HTTPReceiver({
        signingSecret: opts.signingSecret ?? '',
        endpoints: '/slack/events',
        logger: boltLogger(logger),
        // Unknown/unhandled requests get Bolt's 404 after its timer; errors are ours to log.
        processEventErrorHandler: async ({ error }: { error: Error }) => {
          logger.error('slack request failed', { error: error instanceof Error ? error.message : String(error) });
          return true;
        },
      });
  const app: App = new App({
    token: opts.botToken,
    ...(socketMode ? { socketMode: true, appToken: opts.appToken } : { receiver }),
    ...(opts.botId && opts.botUserId ? { botId: opts.botId, botUserId: opts.botUserId } : {}),
    clientOptions,
    logger: boltLogger(logger),
  } as ConstructorParameters<typeof App>[0]);

  const localeOfUser = (userId: string) => localeOf(policy, identify(policy, 'slack', userId).id);

  app.error(async (error) => {
    logger.error('slack listener error', { error: error.message });
  });

  // Retried or duplicated deliveries are processed once: Slack retries events (X-Slack-Retry-Num)
  // and a double-submitted interaction carries the same trigger id.
  app.use(async (args) => {
    const body = args.body as { event_id?: string; trigger_id?: string; type?: string; command?: string; view?: { id?: string; hash?: string } };
    // Commands and clicks are acknowledged before any database work (Slack's 3 s, and a loaded
    // pool must not delay the ack); the listeners then skip their own ack. View submissions are
    // not: their ack may carry field errors.
    const ack = (args as { ack?: () => Promise<void> }).ack;
    if (ack && (body.command !== undefined || body.type === 'block_actions')) {
      await ack();
      args.context.firebellAcked = true;
      // Acknowledged: the rest may wait its turn behind earlier work (see work-gate.ts).
      return gate.run(() => proceed(args, ack, body));
    }
    // Events API requests come without ack(): Bolt has already acknowledged them.
    if (!ack) return gate.run(() => proceed(args, ack, body));
    return proceed(args, ack, body);
  });

  async function proceed(
    args: { next: () => Promise<void>; context: Record<string, unknown> },
    ack: (() => Promise<void>) | undefined,
    body: { event_id?: string; trigger_id?: string; type?: string; command?: string; view?: { id?: string; hash?: string } },
  ): Promise<void> {
    const key = body.event_id
      ? `slack:event:${body.event_id}`
      : body.type === 'view_submission' && body.view?.id
        ? `slack:view:${body.view.id}:${body.view.hash ?? ''}`
        : body.trigger_id
          ? `slack:trigger:${body.trigger_id}`
          : null;
    if (key) {
      let first = true;
      try {
        first = await store.claimInbound(key, new Date().toISOString());
      } catch (err) {
        logger.error('slack dedupe unavailable', { error: (err as Error).message });
      }
      if (!first) {
        logger.info('slack duplicate delivery skipped', { key });
        if (ack && !args.context.firebellAcked) await ack();
        return;
      }
    }
    await args.next();
  }

  async function answer(reply: Reply, respond: (msg: Record<string, unknown>) => Promise<unknown>) {
    if (reply.kind === 'card') {
      const r = renderCard(reply.card);
      await respond({ response_type: 'ephemeral', replace_original: false, text: r.text, blocks: r.blocks });
    } else if (reply.kind === 'text') {
      await respond({ response_type: 'ephemeral', replace_original: false, text: reply.text });
    }
  }

  async function openForm(
    triggerId: string,
    reply: Extract<Reply, { kind: 'form' }>,
    userId: string,
    respond: (msg: Record<string, unknown>) => Promise<unknown>,
  ) {
    const locale = localeOfUser(userId);
    const { view, warnings } = renderModal(reply.form, reply.context, t(locale, 'form.cancel'));
    if (warnings.length) logger.warn('slack modal trimmed to fit limits', { warnings });
    try {
      await app.client.views.open({ trigger_id: triggerId, view: view as never });
    } catch (err) {
      // Usually an expired trigger (valid 3 s, once): the person can simply press again.
      const e = err as { data?: { error?: string }; message?: string };
      logger.warn('slack views.open failed', { error: e.data?.error ?? e.message });
      await respond({ response_type: 'ephemeral', replace_original: false, text: t(locale, 'refuse.form_unavailable') });
    }
  }

  /** Tells a person something privately where they are; a DM when the channel will not take it. */
  async function tell(channel: string, user: string, text: string) {
    try {
      if (channel) {
        await app.client.chat.postEphemeral({ channel, user, text });
        return;
      }
    } catch (err) {
      logger.warn('slack ephemeral failed; sending a DM', { error: (err as Error).message });
    }
    await app.client.chat.postMessage({ channel: user, text });
  }

  app.command(/.*/, async ({ command, ack, respond, context }: SlackCommandMiddlewareArgs & { context: Record<string, unknown> }) => {
    if (!context.firebellAcked) await ack();
    const person = identify(policy, 'slack', command.user_id, command.user_name);
    try {
      const reply = await interactions.command(person, command.text ?? '', {
        platform: 'slack',
        channel: command.channel_id,
        commandName: command.command,
      });
      if (reply.kind === 'form') await openForm(command.trigger_id, reply, command.user_id, respond);
      else await answer(reply, respond);
      logger.info('slack command handled', { user: command.user_id, reply: reply.kind, refused: reply.kind === 'text' && reply.refused });
    } catch (err) {
      logger.error('slack command failed', { error: (err as Error).message });
      await respond({ response_type: 'ephemeral', text: t(localeOf(policy, person.id), 'refuse.unavailable') }).catch((e: unknown) => logger.warn('slack refusal not delivered', { error: (e as Error).message }));
    }
  });

  app.action(/^(incident|request|war_room|major)\./, async ({ ack, body, action, respond, context }) => {
    if (!context.firebellAcked) await ack();
    const b = body as BlockAction;
    const a = action as ButtonAction;
    const person = identify(policy, 'slack', b.user.id, b.user.name ?? b.user.username);
    const channel = b.channel?.id ?? b.container?.channel_id ?? '';
    try {
      const reply = await interactions.click(person, neutralActionId(a.action_id), a.value, {
        platform: 'slack',
        channel,
        commandName: '/incident',
      });
      if (reply.kind === 'form') await openForm(b.trigger_id, reply, b.user.id, respond);
      else if (reply.kind === 'text' && reply.refused && reply.text) {
        // A refusal of a stale card also shows the card as it is now.
        const fresh = await freshCard(a.value, person.id);
        await respond({
          response_type: 'ephemeral',
          replace_original: false,
          text: reply.text,
          ...(fresh ? { blocks: [{ type: 'section', text: { type: 'mrkdwn', text: reply.text } }, ...fresh] } : {}),
        });
      } else await answer(reply, respond);
      logger.info('slack action handled', { user: b.user.id, action: a.action_id, reply: reply.kind, refused: reply.kind === 'text' && reply.refused });
    } catch (err) {
      logger.error('slack action failed', { error: (err as Error).message, action: a.action_id });
      await respond({ response_type: 'ephemeral', replace_original: false, text: t(localeOf(policy, person.id), 'refuse.unavailable') }).catch(() => {});
    }
  });

  async function freshCard(rawValue: string | undefined, personId: string): Promise<Record<string, unknown>[] | null> {
    const id = rawValue?.split('|')[0];
    if (!id || !/^[0-9a-f-]{36}$/i.test(id)) return null;
    const incident = await store.get(id);
    if (!incident) return null;
    const reply = await interactions.command(
      identify(policy, 'slack', personId),
      `status ${incident.number}`,
      { platform: 'slack', channel: '', commandName: '/incident' },
    );
    return reply.kind === 'card' ? renderCard(reply.card).blocks : null;
  }

  /**
   * A mention in a channel or a direct message: the same commands as `/incident`. Replies go in
   * the thread (channel) or the DM. Forms need a trigger id, which events do not carry, so a
   * bare mention answers with help instead of the report form.
   */
  async function onMessage(user: string, text: string, channel: string, threadTs: string | undefined) {
    const person = identify(policy, 'slack', user);
    const locale = localeOf(policy, person.id);
    const clean = text.replace(/<@[A-Z0-9]+>/g, '').trim();
    try {
      const reply = await interactions.command(person, clean || 'help', { platform: 'slack', channel, commandName: '/incident' });
      const post = async (msg: { text: string; blocks?: Record<string, unknown>[] }) =>
        app.client.chat.postMessage({ channel, ...(threadTs ? { thread_ts: threadTs } : {}), ...msg } as never);
      if (reply.kind === 'card') {
        const r = renderCard(reply.card);
        await post({ text: r.text, blocks: r.blocks });
      } else if (reply.kind === 'text') await post({ text: reply.text });
      else await post({ text: t(locale, 'command.help', { command: '/incident' }) });
    } catch (err) {
      logger.error('slack message failed', { error: (err as Error).message });
    }
  }

  app.event('app_mention', async ({ event }) => {
    if (!event.user) return;
    await onMessage(event.user, event.text ?? '', event.channel, event.thread_ts ?? event.ts);
  });

  // A configured reaction (default :memo:) on a message in a war room puts that message on the
  // incident's timeline with its author. Needs reactions:read and channels:history.
  app.event('reaction_added', async ({ event }) => {
    const e = event as { user?: string; reaction?: string; item?: { type?: string; channel?: string; ts?: string } };
    if (e.item?.type !== 'message' || !e.item.channel || !e.item.ts || !e.user || e.reaction !== policy.major.noteReaction) return;
    const { channel, ts } = e.item;
    try {
      if (!(await store.roomByChannel('slack', channel))) return;
      const found = await findMessage(channel, ts);
      if (!found?.text) return;
      const person = identify(policy, 'slack', e.user);
      const author = found.user ? identify(policy, 'slack', found.user) : null;
      const reply = await interactions.reaction(person, { platform: 'slack', channel, messageId: ts, reaction: e.reaction, text: found.text, author });
      if (reply?.kind === 'text') await tell(channel, e.user, reply.text).catch(() => {});
    } catch (err) {
      logger.error('slack reaction failed', { error: (err as Error).message });
    }
  });

  /** A message by channel and ts: top-level through history, a thread reply through replies. */
  async function findMessage(channel: string, ts: string): Promise<{ text?: string; user?: string } | null> {
    const top = await app.client.conversations.history({ channel, latest: ts, inclusive: true, limit: 1 });
    const hit = top.messages?.find((m) => m.ts === ts);
    if (hit) return { text: hit.text, user: hit.user };
    const thread = await app.client.conversations.replies({ channel, ts }).catch(() => null);
    const reply = thread?.messages?.find((m) => m.ts === ts);
    return reply ? { text: reply.text, user: reply.user } : null;
  }

  app.message(async ({ message }) => {
    const m = message as { channel_type?: string; subtype?: string; bot_id?: string; user?: string; text?: string; channel: string };
    // Only people writing to the bot directly; never our own posts or edits.
    if (m.channel_type !== 'im' || m.subtype || m.bot_id || !m.user) return;
    await onMessage(m.user, m.text ?? '', m.channel, undefined);
  });

  app.view(FORM_CALLBACK_ID, async ({ ack, body, view }) => {
    const user = body.user.id;
    const person = identify(policy, 'slack', user, body.user.name);
    const locale = localeOf(policy, person.id);
    const context = parseFormContext(view.private_metadata);
    if (!context) {
      await ack();
      logger.warn('slack view with unreadable context', { user });
      await tell('', user, t(locale, 'refuse.bad_button')).catch(() => {});
      return;
    }
    const values = readModalValues(view.state.values);
    const work = interactions.submit(person, context, values, { platform: 'slack', channel: context.channel, commandName: '/incident' });
    let raced;
    try {
      raced = await withDeadline(work, VIEW_DEADLINE_MS);
    } catch (err) {
      await ack();
      logger.error('slack form failed', { error: (err as Error).message });
      await tell(context.channel, user, t(locale, 'refuse.unavailable')).catch(() => {});
      return;
    }
    if (!raced.done) {
      // Slow store: close the modal now and answer when the work completes.
      await ack();
      const late = await raced.later.catch(() => null);
      const text = late && 'reply' in late && late.reply.kind === 'text' ? late.reply.text : t(locale, 'refuse.unavailable');
      await tell(context.channel, user, text).catch(() => {});
      return;
    }
    const result = raced.value;
    if (!result.ok && 'fieldErrors' in result) {
      await ack({ response_action: 'errors', errors: result.fieldErrors });
      return;
    }
    await ack();
    const reply = result.reply;
    // A report's receipt arrives by DM through the outbox; other outcomes are told here.
    if (context.formId === 'report' && result.ok) return;
    if (reply.kind === 'text') await tell(context.channel, user, reply.text).catch((err) => logger.warn('slack reply failed', { error: (err as Error).message }));
  });

  return {
    app,
    /** The HTTP handler for `POST /slack/events` (HTTP mode only). */
    requestListener: receiver?.requestListener ?? null,
    socketMode,
    async start() {
      if (socketMode) await app.start();
    },
    async stop() {
      if (socketMode) await app.stop();
    },
  };
}

export type SlackApp = ReturnType<typeof createSlackApp>;
