import { webApi } from '@slack/bolt';
import type { Target } from '../../flows/effects';
import type { NeutralCard } from '../../flows/messages/card';
import { ChatDeliveryError, type ChatPort, type Logger, type PostedMessage } from '../../flows/ports';
import { PERMANENT_ERRORS, SLACK_LIMITS } from './limits';
import { renderCard } from './render';

type WebClient = InstanceType<typeof webApi.WebClient>;

/**
 * A WebClient for outbound delivery. It never retries or waits by itself: the outbox worker owns
 * retries, so a 429 must surface at once with its Retry-After instead of stalling the queue.
 */
export function createSlackWebClient(token: string, apiUrl: string | undefined): WebClient {
  return new webApi.WebClient(token, {
    ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    logLevel: webApi.LogLevel.ERROR,
  });
}

/** Maps a Web API failure to what the outbox needs to know: wait how long, or give up. */
export function toDeliveryError(err: unknown): ChatDeliveryError {
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number; message?: string };
  if (e?.code === webApi.ErrorCode.RateLimitedError) {
    return new ChatDeliveryError('slack rate limited', Math.max(1, e.retryAfter ?? 1) * 1000, false);
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

/** ChatPort over Slack's Web API: cards as Block Kit, DMs by posting to the user id. */
export function createSlackPort(client: WebClient, logger: Logger): ChatPort {
  const warn = (warnings: string[], where: string) => {
    if (warnings.length) logger.warn('slack card trimmed to fit limits', { where, warnings });
  };
  return {
    platform: 'slack',
    async postCard(target: Target, card: NeutralCard): Promise<PostedMessage> {
      const { text, blocks, warnings } = renderCard(card);
      warn(warnings, target.id);
      try {
        // Posting to a user id opens (or reuses) the app's DM with them.
        const res = await client.chat.postMessage({ channel: target.id, text, blocks: blocks as never, unfurl_links: false });
        return { channel: String(res.channel), messageId: String(res.ts) };
      } catch (err) {
        throw toDeliveryError(err);
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
    async sendText(target: Target, text: string, thread?: { message: PostedMessage; broadcast: boolean }): Promise<PostedMessage> {
      try {
        const base = { channel: target.id, text: text.slice(0, SLACK_LIMITS.messageText), unfurl_links: false };
        const res = await client.chat.postMessage(
          thread ? { ...base, thread_ts: thread.message.messageId, reply_broadcast: thread.broadcast } : base,
        );
        return { channel: String(res.channel), messageId: String(res.ts) };
      } catch (err) {
        throw toDeliveryError(err);
      }
    },
  };
}
