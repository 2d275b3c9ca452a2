import type { Effect, Target } from './effects';
import type { Actor, EventBody } from './incident/events';
import type { Incident, Platform, Tier } from './incident/model';
import { t, type MessageKey } from './messages/catalog';
import { formatTime, humanDuration } from './messages/format';
import type { Locale, Policy } from './policy/policy';
import { accountOf, localeOf } from './policy/policy';
import { majorEffects } from './major/plan-major';

export interface PlanContext {
  policy: Policy;
  /** Platforms this deployment has connected; effects go only there. */
  platforms: readonly Platform[];
}

function queueCards(incident: Incident, tier: Tier, ctx: PlanContext, createIfMissing: boolean): Effect[] {
  const out: Effect[] = [];
  for (const platform of ctx.platforms) {
    const channel = ctx.policy.tiers[tier].queues[platform];
    if (!channel) continue;
    out.push({
      kind: 'card.sync',
      platform,
      purpose: `queue:${tier}`,
      target: { type: 'channel', id: channel },
      locale: ctx.policy.locale,
      createIfMissing,
    });
  }
  return out;
}

function reporterTarget(incident: Incident, ctx: PlanContext): { platform: Platform; target: Target; locale: Locale } | null {
  const platform = incident.reporter.platform;
  if (!ctx.platforms.includes(platform)) return null;
  return { platform, target: { type: 'user', id: incident.reporter.platformUserId }, locale: localeOf(ctx.policy, incident.reporter.id) };
}

function personTargets(personKey: string, ctx: PlanContext) {
  const out: { platform: Platform; target: Target; locale: Locale }[] = [];
  for (const platform of ctx.platforms) {
    const account = accountOf(ctx.policy, personKey, platform);
    if (account) out.push({ platform, target: { type: 'user', id: account }, locale: localeOf(ctx.policy, personKey) });
  }
  return out;
}

function notifyParams(e: EventBody, incident: Incident, actor: Actor, locale: Locale, policy: Policy): Record<string, string | number> {
  const tier = (x: Tier) => t(locale, `tier.${x}` as MessageKey);
  const params: Record<string, string | number> = {
    number: incident.number,
    title: incident.title,
    priority: t(locale, `priority.${incident.priority}` as MessageKey),
    actor: actor.kind === 'person' ? actor.person.name : t(locale, 'actor.system'),
    tier: tier(incident.tier),
    assignee: incident.assignee?.name ?? t(locale, 'card.nobody'),
  };
  if ('reason' in e) params.reason = e.reason;
  if (e.type === 'IncidentEscalated') params.toTier = tier(e.toTier);
  if (e.type === 'SlaThresholdReached') {
    params.due = formatTime(e.dueAt, locale, policy.timeZone);
    params.target = humanDuration(e.targetMs, locale);
    params.clock = t(locale, `sla.clock.${e.clock}` as MessageKey);
  }
  if (e.type === 'EscalationStepReached') {
    params.after = humanDuration(e.afterMs, locale);
    params.status = t(locale, `status.${incident.status}` as MessageKey);
    if (e.role) params.role = t(locale, `role.${e.role}` as MessageKey);
  }
  if (e.type === 'IncidentReassigned') params.target = e.assignee ? `${e.assignee.name} (${tier(e.toTier)})` : tier(e.toTier);
  if (e.type === 'IncidentHeld' && e.until) params.until = formatTime(e.until, locale, policy.timeZone);
  if (e.type === 'PriorityChanged') {
    params.from = t(locale, `priority.${e.from}` as MessageKey);
    params.to = t(locale, `priority.${e.to}` as MessageKey);
  }
  return params;
}

/** Events the reporter hears about by direct message (resolve asks through its own card). */
const REPORTER_NEWS = new Set<EventBody['type']>([
  'IncidentAccepted',
  'IncidentEscalated',
  'IncidentReassigned',
  'IncidentRejected',
  'IncidentHeld',
  'IncidentResumed',
  'IncidentReopened',
  'IncidentClosed',
  'RequestApproved',
  'RequestDenied',
  'PriorityChanged',
]);

/**
 * What must be said and shown after a change (effects as data, ARCHITECTURE.md rule 3). Pure:
 * the effects are written to the outbox in the same transaction as the change.
 */
export function planEffects(before: Incident | null, after: Incident, events: EventBody[], actor: Actor, ctx: PlanContext, at: string = after.reportedAt): Effect[] {
  // A delivery that failed for good is recorded, never announced: saying so would be one more
  // delivery to the platform that just refused, and a refused notice would record another failure.
  if (events.length > 0 && events.every((e) => e.type === 'DeliveryFailed')) return [];
  const effects: Effect[] = [];
  const { policy } = ctx;

  // The live card in the current tier's queue, and the old queue's card shows where it went.
  effects.push(...queueCards(after, after.tier, ctx, true));
  if (before && before.tier !== after.tier) effects.push(...queueCards(after, before.tier, ctx, false));

  // Approvers get the request as a card in their DMs; once decided, those cards show the outcome.
  const reported = events.some((e) => e.type === 'IncidentReported');
  const asked = reported && after.status === 'pending_approval';
  const decided = before?.status === 'pending_approval' && after.status !== 'pending_approval';
  if (asked || decided) {
    for (const key of policy.roles.approver) {
      for (const p of personTargets(key, ctx)) {
        effects.push({ kind: 'card.sync', platform: p.platform, purpose: `approver:${key}`, target: p.target, locale: p.locale, createIfMissing: asked });
      }
    }
  }

  const reporter = reporterTarget(after, ctx);
  const actorId = actor.kind === 'person' ? actor.person.id : null;
  if (reporter && reported) {
    // The receipt in the reporter's direct messages: the durable record of the number and
    // priority, and where every later notice about it arrives.
    const key: MessageKey = after.status === 'pending_approval' ? 'notify.reported_approval' : 'notify.reported';
    effects.push({
      kind: 'message.send',
      platform: reporter.platform,
      target: reporter.target,
      locale: reporter.locale,
      key,
      text: t(reporter.locale, key, notifyParams(events[0]!, after, actor, reporter.locale, policy)),
    });
  }
  if (reporter) {
    for (const e of events) {
      if (!REPORTER_NEWS.has(e.type) || actorId === after.reporter.id) continue;
      const key = (e.type === 'IncidentHeld' && e.until ? 'notify.IncidentHeldUntil' : `notify.${e.type}`) as MessageKey;
      effects.push({
        kind: 'message.send',
        platform: reporter.platform,
        target: reporter.target,
        locale: reporter.locale,
        key,
        text: t(reporter.locale, key, notifyParams(e, after, actor, reporter.locale, policy)),
      });
    }
    const resolvedNow = events.some((e) => e.type === 'IncidentResolved');
    const reporterCardChanged = events.some((e) =>
      ['ResolutionConfirmed', 'IncidentReopened', 'IncidentRated', 'IncidentClosed'].includes(e.type),
    );
    if (resolvedNow || reporterCardChanged) {
      effects.push({
        kind: 'card.sync',
        platform: reporter.platform,
        purpose: 'reporter',
        target: reporter.target,
        locale: reporter.locale,
        createIfMissing: resolvedNow,
      });
    }
  }

  effects.push(...timerEffects(after, events, actor, ctx));

  // A person handed the ticket directly hears it from the bot, not by chance in the queue.
  for (const e of events) {
    if (e.type !== 'IncidentReassigned' || !e.assignee || e.assignee.id === actorId) continue;
    effects.push(...dm(e.assignee.id, 'notify.assigned_to_you', e, after, actor, ctx));
  }
  // A new war room right after the queue cards: the room is what the team waits for, and
  // everything else this change says (DMs, lines in the room) is queued behind it anyway.
  const major = majorEffects(before, after, events, actor, ctx, at);
  const queueCount = effects.findIndex((e) => e.kind !== 'card.sync' || !e.purpose.startsWith('queue:'));
  const at0 = queueCount < 0 ? effects.length : queueCount;
  effects.splice(at0, 0, ...major.filter((e) => e.kind === 'room.open'));
  effects.push(...major.filter((e) => e.kind !== 'room.open'));
  return effects;
}

/** The queue card's thread on every connected platform where the tier has a queue. */
function queueThreads(incident: Incident, ctx: PlanContext, broadcast: boolean, key: MessageKey, e: EventBody, actor: Actor): Effect[] {
  const out: Effect[] = [];
  const locale = ctx.policy.locale;
  for (const platform of ctx.platforms) {
    const channel = ctx.policy.tiers[incident.tier].queues[platform];
    if (!channel) continue;
    out.push({
      kind: 'message.send',
      platform,
      target: { type: 'channel', id: channel },
      locale,
      key,
      text: t(locale, key, notifyParams(e, incident, actor, locale, ctx.policy)),
      thread: { purpose: `queue:${incident.tier}`, broadcast },
    });
  }
  return out;
}

/** A direct message to a configured person on every connected platform where they have an account. */
function dm(personKey: string, key: MessageKey, e: EventBody, incident: Incident, actor: Actor, ctx: PlanContext): Effect[] {
  return personTargets(personKey, ctx).map((p) => ({
    kind: 'message.send' as const,
    platform: p.platform,
    target: p.target,
    locale: p.locale,
    key,
    text: t(p.locale, key, notifyParams(e, incident, actor, p.locale, ctx.policy)),
  }));
}

/** Events the watchers (people the matrix notified) hear about. */
const WATCHER_NEWS = new Set<EventBody['type']>(['IncidentEscalated', 'IncidentResolved', 'IncidentReopened', 'IncidentClosed', 'ResolutionConfirmed']);

/**
 * What the timers' events say (DOMAIN.md §5): a warning or breach goes to the assignee by direct
 * message and under the queue card, or, with nobody on it yet, under the card and into the queue
 * itself; a matrix role step tells that role's people directly; watchers hear of breaches and of
 * the milestones after they were pulled in; the assignee hears when a wait is over.
 */
function timerEffects(after: Incident, events: EventBody[], actor: Actor, ctx: PlanContext): Effect[] {
  const out: Effect[] = [];
  // Watchers hear of what others did: not of their own actions, not twice as the assignee too.
  const watchers = after.watchers.filter((w) => w !== (actor.kind === 'person' ? actor.person.id : null));
  for (const e of events) {
    if (e.type === 'SlaThresholdReached') {
      const key = `notify.sla.${e.clock}.${e.threshold}` as MessageKey;
      if (after.assignee) {
        out.push(...dm(after.assignee.id, key, e, after, actor, ctx));
        out.push(...queueThreads(after, ctx, false, key, e, actor));
      } else {
        out.push(...queueThreads(after, ctx, true, key, e, actor));
      }
      if (e.threshold === 'breach') {
        for (const w of watchers) if (w !== after.assignee?.id) out.push(...dm(w, key, e, after, actor, ctx));
      }
    } else if (e.type === 'EscalationStepReached' && e.role) {
      for (const person of e.notified) out.push(...dm(person, 'notify.matrix.role', e, after, actor, ctx));
    } else if (e.type === 'IncidentResumed' && after.assignee && actor.kind === 'system') {
      out.push(...dm(after.assignee.id, 'notify.wait_over', e, after, actor, ctx));
    } else if (WATCHER_NEWS.has(e.type)) {
      const key = `notify.watch.${e.type}` as MessageKey;
      for (const w of watchers) out.push(...dm(w, key, e, after, actor, ctx));
    }
  }
  return out;
}
