import { webApi } from '@slack/bolt';
import type { Target } from '../../flows/effects';
import type { NeutralCard } from '../../flows/messages/card';
import { ChatDeliveryError, type ChatPort, type Logger, type PostedMessage, type RoomPort } from '../../flows/ports';
import { PERMANENT_ERRORS, SLACK_LIMITS } from './limits';
import { renderCard } from './render';

type WebClient = InstanceType<typeof webApi.WebClient>;

/**
 * A WebClient for outbound delivery. It never retries or waits by itself: the outbox worker owns
 * retries, so a 429 must surface at once with its Retry-After instead of stalling the queue.
 */
export function createSlackWebClient(token: string, apiUrl: string | undefined, timeoutMs = 10_000): WebClient {
  return new webApi.WebClient(token, {
    ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    // A call that never answers fails at the deadline and goes back to the outbox, instead of
    // holding the worker (the WebClient's own default is no timeout at all).
    timeout: timeoutMs,
    logLevel: webApi.LogLevel.ERROR,
  });
}

/** Maps a Web API failure to what the outbox needs to know: wait how long, or give up. */
export function toDeliveryError(err: unknown): ChatDeliveryError {
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number; message?: string };
  if (e?.code === webApi.ErrorCode.RateLimitedError) {
    return new ChatDeliveryError('slack rate limited', Math.max(1, e.retryAfter ?? 1) * 1000, false, true);
  }
  if (e?.code === webApi.ErrorCode.PlatformError) {
    const code = e.data?.error ?? 'unknown_error';
    return new ChatDeliveryError(`slack error ${code}`, null, PERMANENT_ERRORS.has(code));
  }
  if (e?.code === webApi.ErrorCode.HTTPError) {
    return new ChatDeliveryError(`slack http ${e.statusCode ?? '?'}`, null, false);
  }
  return new ChatDeliveryError(`slack request failed: ${e?.message ?? String(err)}`, null, false);
}

/**
 * A Slack channel name for an incident: `inc-42-payroll-is-down`. Slack allows only lowercase
 * letters, digits, `-` and `_`, at most 80 characters (conversations.create `invalid_name_*`);
 * accents are folded, anything else (a Chinese title) drops out, leaving `inc-42`. A suffix
 * `-2`, `-3` … follows a collision with someone else's channel.
 */
export function slackRoomName(number: string, title: string, prefix: string, attempt: number): string {
  const slug = (x: string) =>
    x
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const head = `${slug(prefix) || 'inc'}-${slug(number.replace(/^inc-?/i, ''))}`;
  const suffix = attempt > 0 ? `-${attempt + 1}` : '';
  const room = SLACK_LIMITS.channelName - head.length - suffix.length - 1;
  const words = slug(title).slice(0, Math.max(0, room)).replace(/-+$/g, '');
  return `${head}${words ? `-${words}` : ''}${suffix}`;
}

/** Slack's per-user invite errors that mean "already there": success for us. */
const ALREADY_IN = new Set(['already_in_channel', 'cant_invite_self']);

function slackRooms(client: WebClient, logger: Logger): RoomPort {
  let botUserId: Promise<string> | null = null;
  const me = () => {
    botUserId ??= client.auth.test().then((r) => String(r.user_id)).catch((err) => {
      botUserId = null;
      throw toDeliveryError(err);
    });
    return botUserId;
  };
  const platformError = (err: unknown) => (err as { code?: string; data?: { error?: string; errors?: { user: string; error: string }[] } });
  return {
    roomName: slackRoomName,
    async createRoom(name) {
      try {
        const res = await client.conversations.create({ name, is_private: false });
        return { channel: String(res.channel?.id) };
      } catch (err) {
        if (platformError(err).data?.error === 'name_taken') return 'taken';
        throw toDeliveryError(err);
      }
    },
    async findOwnRoom(name) {
      const self = await me();
      let cursor: string | undefined;
      try {
        // No lookup by name exists: page through the channels (only on the rare lost-answer path).
        for (let page = 0; page < 100; page++) {
          const res = await client.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: SLACK_LIMITS.listPage, ...(cursor ? { cursor } : {}) });
          const hit = res.channels?.find((c) => c.name === name);
          if (hit) return hit.creator === self && !hit.is_archived ? { channel: String(hit.id) } : null;
          cursor = res.response_metadata?.next_cursor || undefined;
          if (!cursor) return null;
        }
        return null;
      } catch (err) {
        throw toDeliveryError(err);
      }
    },
    async describeRoom(channel, topic, purpose) {
      try {
        await client.conversations.setTopic({ channel, topic: topic.slice(0, SLACK_LIMITS.topic) });
        await client.conversations.setPurpose({ channel, purpose: purpose.slice(0, SLACK_LIMITS.topic) });
      } catch (err) {
        throw toDeliveryError(err);
      }
    },
    async inviteToRoom(channel, users) {
      const failed: { user: string; error: string }[] = [];
      for (let i = 0; i < users.length; i += SLACK_LIMITS.inviteBatch) {
        const batch = users.slice(i, i + SLACK_LIMITS.inviteBatch);
        try {
          // force: invite the valid ones even when some cannot be (conversations.invite docs).
          const res = (await client.conversations.invite({ channel, users: batch.join(','), force: true })) as { errors?: { user: string; error: string }[] };
          for (const e of res.errors ?? []) if (!ALREADY_IN.has(e.error)) failed.push({ user: e.user, error: e.error });
        } catch (err) {
          const e = platformError(err);
          if (e.code === webApi.ErrorCode.PlatformError && (e.data?.errors?.length || ALREADY_IN.has(e.data?.error ?? ''))) {
            // Every one of them failed (or all were already in): record each, do not retry.
            const errors = e.data?.errors ?? batch.map((user) => ({ user, error: e.data?.error ?? 'unknown' }));
            for (const x of errors) if (!ALREADY_IN.has(x.error)) failed.push({ user: x.user, error: x.error });
            continue;
          }
          if (e.code === webApi.ErrorCode.PlatformError && batch.length === 1) {
            failed.push({ user: batch[0]!, error: e.data?.error ?? 'unknown' });
            continue;
          }
          throw toDeliveryError(err);
        }
      }
      if (failed.length) logger.debug('slack invite refused for some users', { channel, failed: failed.length });
      return { failed };
    },
    async pin(message) {
      try {
        await client.pins.add({ channel: message.channel, timestamp: message.messageId });
      } catch (err) {
        if (platformError(err).data?.error === 'already_pinned') return;
        throw toDeliveryError(err);
      }
    },
    async archiveRoom(channel) {
      try {
        await client.conversations.archive({ channel });
      } catch (err) {
        if (platformError(err).data?.error === 'already_archived') return;
        throw toDeliveryError(err);
      }
    },
  };
}

/** ChatPort over Slack's Web API: cards as Block Kit, DMs by posting to the user id. */
/** Metadata event type of Firebell's cards (Slack message metadata). */
const CARD_EVENT = 'firebell_card';
const NOTICE_EVENT = 'firebell_notice';

export function createSlackPort(client: WebClient, logger: Logger): ChatPort {
  const warn = (warnings: string[], where: string) => {
    if (warnings.length) logger.warn('slack card trimmed to fit limits', { where, warnings });
  };
  return {
    platform: 'slack',
    rooms: slackRooms(client, logger),
    async postCard(target: Target, card: NeutralCard, tag?: string): Promise<PostedMessage> {
      const { text, blocks, warnings } = renderCard(card);
      warn(warnings, target.id);
      try {
        // Posting to a user id opens (or reuses) the app's DM with them. The tag rides along as
        // message metadata, so findCard can recognise the post (chat.postMessage has no idempotency key).
        const res = await client.chat.postMessage({
          channel: target.id,
          text,
          blocks: blocks as never,
          unfurl_links: false,
          ...(tag ? { metadata: { event_type: CARD_EVENT, event_payload: { tag } } } : {}),
        });
        return { channel: String(res.channel), messageId: String(res.ts) };
      } catch (err) {
        throw toDeliveryError(err);
      }
    },
    async findCard(target: Target, tag: string): Promise<PostedMessage | null> {
      try {
        // A DM is found by the IM channel Slack keeps for the user.
        const channel = target.type === 'user' ? String((await client.conversations.open({ users: target.id })).channel?.id ?? '') : target.id;
        if (!channel) return null;
        // The newest 100 messages: a lost post is retried within minutes.
        const res = await client.conversations.history({ channel, limit: 100, include_all_metadata: true });
        const m = (res.messages ?? []).find((x) => x.bot_id && x.metadata?.event_type === CARD_EVENT && (x.metadata.event_payload as { tag?: unknown } | undefined)?.tag === tag);
        return m?.ts ? { channel, messageId: m.ts } : null;
      } catch (err) {
        logger.warn('slack card look-up failed; posting it again', { error: (err as Error).message });
        return null;
      }
    },
    async updateCard(message: PostedMessage, card: NeutralCard): Promise<void> {
      const { text, blocks, warnings } = renderCard(card);
      warn(warnings, message.channel);
      try {
        await client.chat.update({ channel: message.channel, ts: message.messageId, text, blocks: blocks as never });
      } catch (err) {
        throw toDeliveryError(err);
      }
    },
    async sendText(target: Target, text: string, thread?: { message: PostedMessage; broadcast: boolean }, key?: string): Promise<PostedMessage> {
      try {
        // The outbox key rides along as metadata, so findText can recognise a post whose answer was lost.
        const base = {
          channel: target.id,
          text: text.slice(0, SLACK_LIMITS.messageText),
          unfurl_links: false,
          ...(key ? { metadata: { event_type: NOTICE_EVENT, event_payload: { key } } } : {}),
        };
        const res = await client.chat.postMessage(
          thread ? { ...base, thread_ts: thread.message.messageId, reply_broadcast: thread.broadcast } : base,
        );
        return { channel: String(res.channel), messageId: String(res.ts) };
      } catch (err) {
        throw toDeliveryError(err);
      }
    },
    async findText(target: Target, key: string, thread?: { message: PostedMessage }): Promise<PostedMessage | null> {
      try {
        const channel = thread
          ? thread.message.channel
          : target.type === 'user'
            ? String((await client.conversations.open({ users: target.id })).channel?.id ?? '')
            : target.id;
        if (!channel) return null;
        // A thread's replies come only from conversations.replies; the newest 100 top-level
        // messages otherwise (a lost post is retried within minutes).
        const res = thread
          ? await client.conversations.replies({ channel, ts: thread.message.messageId, limit: 200, include_all_metadata: true })
          : await client.conversations.history({ channel, limit: 100, include_all_metadata: true });
        const m = (res.messages ?? []).find((x) => x.bot_id && x.metadata?.event_type === NOTICE_EVENT && (x.metadata.event_payload as { key?: unknown } | undefined)?.key === key);
        return m?.ts ? { channel, messageId: m.ts } : null;
      } catch (err) {
        logger.warn('slack notice look-up failed; posting it again', { error: (err as Error).message });
        return null;
      }
    },
  };
}
