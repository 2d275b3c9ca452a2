import type { Effect, Target } from './effects';
import type { Command } from './incident/commands';
import type { Incident, Platform } from './incident/model';
import { buildMajorReport, reportToChat } from './major/report';
import { roomMembers, roomTexts } from './major/room';
import { buildIncidentCard } from './messages/cards';
import { ChatDeliveryError, type ChatPort, type Clock, type IncidentStore, type Logger, type OutboxItem, type RoomPort, type WarRoomRecord } from './ports';
import type { Locale, Policy } from './policy/policy';

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
  /**
   * Records what a delivery learned on the incident's timeline (the war room is open, who could
   * not be invited), as a system command through the dispatcher. Must be idempotent: a retried
   * delivery records again and the command then changes nothing.
   */
  record?: (incidentId: string, command: Command) => Promise<void>;
}

/** How many suffixed names a room tries before giving up (someone else holds every one). */
const MAX_ROOM_NAMES = 10;

const MAX_BACKOFF_MS = 5 * 60_000;

/** Claims that found work one run makes at most (each fills the free delivery slots). */
const MAX_CLAIMS_PER_RUN = 200;
/** While deliveries are in flight, how often the pump looks for newly committed work. */
const IN_FLIGHT_POLL_MS = 100;

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

  /**
   * Where a target is: a room target is the incident's war room on that platform. Null when the
   * platform has no rooms (nothing to deliver there). The room's setup is queued before anything
   * said in it (one incident's items go out in order), so a room still without a channel here
   * will not get one: its setup was parked. The message is parked at once then, not retried, so
   * the incident's other notices are not held up behind it.
   */
  async function resolve(item: OutboxItem, platform: Platform, port: ChatPort, target: Target): Promise<Target | null> {
    if (target.type !== 'room') return target;
    if (!port.rooms) return null;
    const room = await store.getRoom(item.incidentId, platform);
    if (!room?.channel) throw new ChatDeliveryError(`incident ${item.incidentId} has no war room on ${platform} (its setup failed)`, null, true);
    return { type: 'channel', id: room.channel };
  }

  async function loadIncident(item: OutboxItem): Promise<Incident> {
    const incident = await store.get(item.incidentId);
    if (!incident) throw new ChatDeliveryError(`incident ${item.incidentId} vanished`, null, true);
    return incident;
  }

  async function syncCard(item: OutboxItem, port: ChatPort, effect: Extract<Effect, { kind: 'card.sync' }>): Promise<void> {
    const incident = await loadIncident(item);
    const last = await store.lastEntry(incident.id);
    const card = buildIncidentCard(incident, effect.purpose, last, { policy, locale: effect.locale, now: clock.now().getTime() });
    const binding = await store.getBinding(incident.id, effect.platform, effect.purpose);
    if (binding) {
      await port.updateCard({ channel: binding.channel, messageId: binding.messageId }, card);
      return;
    }
    if (!effect.createIfMissing) return;
    const target = await resolve(item, effect.platform, port, effect.target);
    if (!target) return;
    const tag = `${incident.id}:${effect.purpose}`;
    // A retry may follow a post that happened but was never recorded: look for it first.
    const found = item.attempts > 0 && port.findCard ? await port.findCard(target, tag).catch(() => null) : null;
    if (found) {
      await store.saveBinding({ incidentId: incident.id, platform: effect.platform, purpose: effect.purpose, channel: found.channel, messageId: found.messageId });
      logger.info('card found again after a lost answer', { incident: incident.number, platform: effect.platform, purpose: effect.purpose });
      await port.updateCard(found, card);
      return;
    }
    const posted = await port.postCard(target, card, tag);
    await store.saveBinding({ incidentId: incident.id, platform: effect.platform, purpose: effect.purpose, channel: posted.channel, messageId: posted.messageId });
  }

  /**
   * The room's channel, created or found again. The row is reserved before the platform is asked,
   * and the channel id saved the moment it is known; a create whose answer was lost is found by
   * its name on the retry (the platform says the name is taken, and it is ours), so a retry never
   * makes a second room. A name someone else holds moves to the next suffix.
   */
  async function ensureChannel(rooms: RoomPort, incident: Incident, platform: Platform): Promise<WarRoomRecord & { channel: string }> {
    const prefix = policy.major.roomPrefix;
    let room = await store.reserveRoom(incident.id, platform, rooms.roomName(incident.number, incident.title, prefix, 0));
    for (let i = 0; !room.channel && i < MAX_ROOM_NAMES; i++) {
      const made = await rooms.createRoom(room.name);
      if (made !== 'taken') {
        room = { ...room, channel: made.channel };
        await store.saveRoom(room);
        logger.info('war room created', { incident: incident.number, platform, name: room.name });
        break;
      }
      const own = await rooms.findOwnRoom(room.name);
      if (own) {
        room = { ...room, channel: own.channel };
        await store.saveRoom(room);
        logger.warn('war room found again after a lost create answer', { incident: incident.number, platform, name: room.name });
        break;
      }
      const attempt = room.progress.attempt + 1;
      room = { ...room, name: rooms.roomName(incident.number, incident.title, prefix, attempt), progress: { ...room.progress, attempt } };
      await store.saveRoom(room);
    }
    if (!room.channel) throw new ChatDeliveryError(`no free war room name for ${incident.number} after ${MAX_ROOM_NAMES} tries`, null, true);
    return room as WarRoomRecord & { channel: string };
  }

  /**
   * Invites who should be in and is not yet. Returns the room with its progress updated (not
   * saved: the caller saves it), the names added and those refused now.
   */
  async function invite(rooms: RoomPort, room: WarRoomRecord & { channel: string }, incident: Incident, extra: string[]) {
    const wanted = roomMembers(incident, policy, room.platform, clock.now().getTime());
    for (const u of extra) if (!wanted.some((w) => w.user === u)) wanted.push({ key: u, name: u, user: u });
    const tried = new Set([...room.progress.invited, ...room.progress.failed.map((f) => f.user)]);
    const fresh = wanted.filter((w) => !tried.has(w.user));
    if (fresh.length === 0) return { room, added: [] as string[], refused: [] as { name: string; error: string }[] };
    const { failed } = await rooms.inviteToRoom(room.channel, fresh.map((w) => w.user));
    const bad = new Set(failed.map((f) => f.user));
    const next = {
      ...room,
      progress: {
        ...room.progress,
        invited: [...room.progress.invited, ...fresh.filter((w) => !bad.has(w.user)).map((w) => w.user)],
        failed: [...room.progress.failed, ...failed],
      },
    };
    const nameOf = (user: string) => fresh.find((w) => w.user === user)?.name ?? user;
    if (failed.length) logger.warn('war room invitations refused', { incident: incident.number, platform: room.platform, refused: failed });
    return {
      room: next,
      added: fresh.filter((w) => !bad.has(w.user)).map((w) => w.name),
      refused: failed.map((f) => ({ name: nameOf(f.user), error: f.error })),
    };
  }

  /** The summary: posted once (its binding says so) and pinned once; card.sync keeps it current. */
  async function postSummary(rooms: RoomPort, port: ChatPort, room: WarRoomRecord & { channel: string }, incident: Incident, locale: Locale): Promise<boolean> {
    let summary = await store.getBinding(incident.id, room.platform, 'war_room');
    if (!summary) {
      const last = await store.lastEntry(incident.id);
      const card = buildIncidentCard(incident, 'war_room', last, { policy, locale, now: clock.now().getTime() });
      const posted = await port.postCard({ type: 'channel', id: room.channel }, card);
      summary = { incidentId: incident.id, platform: room.platform, purpose: 'war_room', channel: posted.channel, messageId: posted.messageId };
      await store.saveBinding(summary);
    }
    if (!room.progress.pinned) await rooms.pin({ channel: summary.channel, messageId: summary.messageId });
    return true;
  }

  async function openRoom(item: OutboxItem, port: ChatPort, effect: Extract<Effect, { kind: 'room.open' }>): Promise<void> {
    const rooms = port.rooms;
    if (!rooms) return;
    const incident = await loadIncident(item);
    if (!incident.major) return;
    let room = await ensureChannel(rooms, incident, effect.platform);
    // Describing, inviting and the pinned summary do not depend on each other: side by side, so
    // the room is ready after the slowest of them rather than after all of them in a row. Each is
    // safe to repeat (already described, already in, already pinned), and what succeeded is saved
    // even when another failed, so the retry does only what is left.
    const { topic, purpose } = roomTexts(incident, effect.locale);
    const [described, invited, pinned] = await Promise.allSettled([
      room.progress.described ? Promise.resolve(true) : rooms.describeRoom(room.channel, topic, purpose).then(() => true),
      invite(rooms, room, incident, []),
      postSummary(rooms, port, room, incident, effect.locale),
    ]);
    room = {
      ...room,
      progress: {
        ...(invited.status === 'fulfilled' ? invited.value.room.progress : room.progress),
        described: room.progress.described || described.status === 'fulfilled',
        pinned: room.progress.pinned || pinned.status === 'fulfilled',
      },
    };
    await store.saveRoom(room);
    const failed = [described, invited, pinned].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (!room.progress.recorded) {
      const members = roomMembers(incident, policy, effect.platform, clock.now().getTime());
      const refused = room.progress.failed.map((f) => ({ name: members.find((m) => m.user === f.user)?.name ?? f.user, error: f.error }));
      await deps.record?.(incident.id, {
        type: 'RecordWarRoom',
        platform: effect.platform,
        channel: room.channel,
        name: room.name,
        invited: room.progress.invited.length,
        uninvited: refused,
      });
      await store.saveRoom({ ...room, progress: { ...room.progress, recorded: true } });
      // Link the room from the incident's queue card now, not behind everything the declaration
      // queued (the record's own card.sync follows later and finds it current).
      const fresh = await loadIncident(item);
      await syncCard(item, port, { kind: 'card.sync', platform: effect.platform, purpose: `queue:${fresh.tier}`, target: { type: 'channel', id: '' }, locale: policy.locale, createIfMissing: false });
    }
  }

  async function execute(item: OutboxItem): Promise<void> {
    const effect = item.effect;
    const port = ports[effect.platform];
    if (!port) throw new ChatDeliveryError(`platform ${effect.platform} is not connected`, null, true);
    switch (effect.kind) {
      case 'message.send': {
        const card = effect.thread ? await store.getBinding(item.incidentId, effect.platform, effect.thread.purpose) : null;
        const sentBefore = async (target: Target, thread?: { message: { channel: string; messageId: string } }) => {
          // A retry may follow a send that happened but was never recorded: look for it first.
          if (item.attempts === 0 || !port.findText) return false;
          const found = await port.findText(target, item.key, thread).catch(() => null);
          if (found) logger.info('notice found again after a lost answer', { key: item.key, platform: effect.platform });
          return found !== null;
        };
        if (card && effect.thread) {
          const message = { channel: card.channel, messageId: card.messageId };
          if (await sentBefore({ type: 'channel', id: card.channel }, { message })) return;
          await port.sendText({ type: 'channel', id: card.channel }, effect.text, { message, broadcast: effect.thread.broadcast }, item.key);
          return;
        }
        const target = await resolve(item, effect.platform, port, effect.target);
        if (target && !(await sentBefore(target))) await port.sendText(target, effect.text, undefined, item.key);
        return;
      }
      case 'card.sync':
        return syncCard(item, port, effect);
      case 'room.open':
        return openRoom(item, port, effect);
      case 'room.invite': {
        if (!port.rooms) return;
        const room = await store.getRoom(item.incidentId, effect.platform);
        // Not open yet: room.open (queued before this) invites everyone anyway.
        if (!room?.channel) return;
        const incident = await loadIncident(item);
        const r = await invite(port.rooms, room as WarRoomRecord & { channel: string }, incident, effect.people);
        await store.saveRoom(r.room);
        if (r.added.length || r.refused.length) {
          await deps.record?.(incident.id, { type: 'RecordRoomMembers', platform: effect.platform, names: r.added, uninvited: r.refused });
        }
        return;
      }
      case 'room.archive': {
        if (!port.rooms) return;
        const room = await store.getRoom(item.incidentId, effect.platform);
        if (!room?.channel || room.progress.archived) return;
        await port.rooms.archiveRoom(room.channel);
        await store.saveRoom({ ...room, progress: { ...room.progress, archived: true } });
        return;
      }
      case 'room.report': {
        const target = await resolve(item, effect.platform, port, { type: 'room', id: '' });
        if (!target) return;
        const incident = await loadIncident(item);
        const report = buildMajorReport(incident, await store.timeline(incident.id), { policy, locale: effect.locale, now: clock.now().getTime() });
        await port.sendText(target, reportToChat(report), undefined, item.key);
        return;
      }
    }
  }

  /**
   * Puts a parked delivery on the incident's timeline, so whoever looks at the incident sees what
   * never arrived (the log and the metric say it to operators). A failure to record is only
   * logged: the item is parked either way.
   */
  async function recordFailure(item: OutboxItem, attempts: number, error: string): Promise<void> {
    const e = item.effect;
    const purpose = e.kind === 'card.sync' ? e.purpose : e.kind === 'message.send' ? e.key : null;
    try {
      await deps.record?.(item.incidentId, { type: 'RecordDeliveryFailure', platform: e.platform, what: e.kind, purpose, attempts, error });
    } catch (err) {
      logger.warn('could not record a failed delivery on the timeline', { key: item.key, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * One pass: claims due items and delivers them. Returns how many were handled, and the earliest
   * time an item retried in this pass becomes due again (null when none was retried).
   */
  async function runOnce(): Promise<{ delivered: number; retried: number; failed: number; nextRetryAt: string | null }> {
    const result = { delivered: 0, retried: 0, failed: 0, nextRetryAt: null as string | null };

    async function deliver(item: OutboxItem): Promise<void> {
      try {
        await execute(item);
        await store.completeOutbox(item.id, clock.now().toISOString());
        result.delivered++;
      } catch (err) {
        const e = err instanceof ChatDeliveryError ? err : null;
        const attempts = item.attempts + 1;
        const now = clock.now().getTime();
        // Throttling passes: it gets eight times the attempts (hours of waiting) before parking.
        const give_up = e?.permanent || attempts >= (e?.throttled ? maxAttempts * 8 : maxAttempts);
        const delay = e?.retryAfterMs ?? Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (attempts - 1));
        const retryAt = give_up ? null : new Date(now + delay).toISOString();
        const message = err instanceof Error ? err.message : String(err);
        await store.failOutbox(item.id, message, retryAt);
        if (give_up) {
          result.failed++;
          logger.error('outbox delivery failed for good', { key: item.key, kind: item.effect.kind, platform: item.effect.platform, attempts, error: message });
          await recordFailure(item, attempts, message);
        } else {
          result.retried++;
          // The scheduler wakes the worker then, so a Retry-After is honoured to the second.
          if (retryAt && (!result.nextRetryAt || retryAt < result.nextRetryAt)) result.nextRetryAt = retryAt;
          logger.warn('outbox delivery will be retried', { key: item.key, platform: item.effect.platform, attempts, retryAt, error: message });
        }
      }
    }

    // A pump, not passes: a slot freed by a finished delivery is filled at once, so one slow call
    // (up to the API deadline) holds up only its own incident, never a whole batch of others.
    // An incident's next item becomes claimable only once its previous one is done, so claiming
    // goes on until nothing is claimable and nothing is in flight; bounded, so one busy incident
    // cannot keep the caller forever.
    const inflight = new Set<Promise<void>>();
    let fatal: unknown = null;
    let claims = 0;
    for (;;) {
      if (fatal === null && claims < MAX_CLAIMS_PER_RUN && inflight.size < batch) {
        let items: OutboxItem[] = [];
        try {
          items = await store.claimOutbox(clock.now().toISOString(), batch - inflight.size, leaseMs);
        } catch (err) {
          fatal = err;
        }
        for (const item of items) {
          const p: Promise<void> = deliver(item)
            .catch((err: unknown) => {
              // Only the store can fail here (recording the outcome): stop claiming, finish the rest.
              fatal ??= err;
            })
            .finally(() => inflight.delete(p));
          inflight.add(p);
        }
        if (items.length > 0) {
          claims++;
          continue;
        }
      }
      if (inflight.size === 0) break;
      // Work committed while a delivery is in flight is not waiting for it to end: look again
      // shortly, or as soon as a slot frees (which may unblock that incident's next item).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([...inflight, new Promise<void>((r) => (timer = setTimeout(r, IN_FLIGHT_POLL_MS)))]);
      clearTimeout(timer);
    }
    if (fatal !== null) throw fatal;
    return result;
  }

  return { runOnce };
}

export type OutboxWorker = ReturnType<typeof createOutboxWorker>;
