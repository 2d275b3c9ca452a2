import type { Platform } from './incident/model';
import { buildIncidentCard } from './messages/cards';
import { ChatDeliveryError, type ChatPort, type Clock, type IncidentStore, type Logger, type OutboxItem } from './ports';
import type { Policy } from './policy/policy';

export interface OutboxWorkerDeps {
  store: IncidentStore;
  ports: Partial<Record<Platform, ChatPort>>;
  policy: Policy;
  clock: Clock;
  logger: Logger;
  /** How long a claimed item is ours before another worker may take it (a crashed worker's). */
  leaseMs?: number;
  /** Attempts before an item is parked as failed (kept for inspection, not dropped). */
  maxAttempts?: number;
  batch?: number;
}

const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Delivers the outbox: each effect is executed against its platform's ChatPort, in order per
 * incident, retried with backoff (honouring the platform's Retry-After), and parked as failed
 * after the last attempt. Cards are rendered from the latest state at delivery time.
 */
export function createOutboxWorker(deps: OutboxWorkerDeps) {
  const { store, ports, policy, clock, logger } = deps;
  const leaseMs = deps.leaseMs ?? 30_000;
  const maxAttempts = deps.maxAttempts ?? 8;
  const batch = deps.batch ?? 20;

  async function execute(item: OutboxItem): Promise<void> {
    const effect = item.effect;
    const port = ports[effect.platform];
    if (!port) throw new ChatDeliveryError(`platform ${effect.platform} is not connected`, null, true);
    if (effect.kind === 'message.send') {
      const card = effect.thread ? await store.getBinding(item.incidentId, effect.platform, effect.thread.purpose) : null;
      if (card && effect.thread) {
        await port.sendText(
          { type: 'channel', id: card.channel },
          effect.text,
          { message: { channel: card.channel, messageId: card.messageId }, broadcast: effect.thread.broadcast },
        );
      } else {
        await port.sendText(effect.target, effect.text);
      }
      return;
    }
    const incident = await store.get(item.incidentId);
    if (!incident) throw new ChatDeliveryError(`incident ${item.incidentId} vanished`, null, true);
    const last = await store.lastEntry(incident.id);
    const card = buildIncidentCard(incident, effect.purpose, last, { policy, locale: effect.locale, now: clock.now().getTime() });
    const binding = await store.getBinding(incident.id, effect.platform, effect.purpose);
    if (binding) {
      await port.updateCard({ channel: binding.channel, messageId: binding.messageId }, card);
      return;
    }
    if (!effect.createIfMissing) return;
    const posted = await port.postCard(effect.target, card);
    await store.saveBinding({
      incidentId: incident.id,
      platform: effect.platform,
      purpose: effect.purpose,
      channel: posted.channel,
      messageId: posted.messageId,
    });
  }

  /**
   * One pass: claims due items and delivers them. Returns how many were handled, and the earliest
   * time an item retried in this pass becomes due again (null when none was retried).
   */
  async function runOnce(): Promise<{ delivered: number; retried: number; failed: number; nextRetryAt: string | null }> {
    const result = { delivered: 0, retried: 0, failed: 0, nextRetryAt: null as string | null };
    // An incident's next item becomes claimable only after its previous one is done, so loop
    // until a pass claims nothing (bounded, so one busy incident cannot starve the caller).
    for (let pass = 0; pass < 50; pass++) {
      const items = await store.claimOutbox(clock.now().toISOString(), batch, leaseMs);
      if (items.length === 0) break;
      await Promise.all(
        items.map(async (item) => {
          try {
            await execute(item);
            await store.completeOutbox(item.id, clock.now().toISOString());
            result.delivered++;
          } catch (err) {
            const e = err instanceof ChatDeliveryError ? err : null;
            const attempts = item.attempts + 1;
            const now = clock.now().getTime();
            const give_up = e?.permanent || attempts >= maxAttempts;
            const delay = e?.retryAfterMs ?? Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (attempts - 1));
            const retryAt = give_up ? null : new Date(now + delay).toISOString();
            const message = err instanceof Error ? err.message : String(err);
            await store.failOutbox(item.id, message, retryAt);
            if (give_up) {
              result.failed++;
              logger.error('outbox delivery failed for good', { key: item.key, kind: item.effect.kind, platform: item.effect.platform, attempts, error: message });
            } else {
              result.retried++;
              // The scheduler wakes the worker then, so a Retry-After is honoured to the second.
              if (retryAt && (!result.nextRetryAt || retryAt < result.nextRetryAt)) result.nextRetryAt = retryAt;
              logger.warn('outbox delivery will be retried', { key: item.key, platform: item.effect.platform, attempts, retryAt, error: message });
            }
          }
        }),
      );
    }
    return result;
  }

  return { runOnce };
}

export type OutboxWorker = ReturnType<typeof createOutboxWorker>;
