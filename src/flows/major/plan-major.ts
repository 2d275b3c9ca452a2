/**
 * What major-incident facts say and do (DOMAIN.md §6), as effects for the outbox: the war room
 * opened and kept complete, the summary card kept current, updates fanned out to the reporter and
 * every linked reporter, the commander reminded, the report posted at resolution, the room
 * archived after close. Pure, like the rest of planning.
 */
import type { Effect, Target } from '../effects';
import type { Actor, EventBody, TimelineEntry } from '../incident/events';
import type { Incident, Platform } from '../incident/model';
import { outcomeLine } from '../messages/cards';
import { t, type MessageKey } from '../messages/catalog';
import { formatTime, humanDuration, truncate } from '../messages/format';
import type { Locale } from '../policy/policy';
import { accountOf, localeOf } from '../policy/policy';
import type { PlanContext } from '../plan';
import { isLiveMajor } from './major';

/** Lifecycle facts worth a line in the room: the room follows the work without asking. */
const ROOM_NEWS = new Set<EventBody['type']>([
  'IncidentAccepted',
  'IncidentEscalated',
  'IncidentReassigned',
  'IncidentHeld',
  'IncidentResumed',
  'IncidentResolved',
  'IncidentReopened',
  'ResolutionConfirmed',
  'IncidentClosed',
  'PriorityChanged',
  'SlaThresholdReached',
  'EscalationStepReached',
  'NoteAdded',
]);

/** Facts after which someone new may belong in the room. */
const NEW_MEMBERS = new Set<EventBody['type']>(['IncidentAccepted', 'IncidentReassigned', 'MajorRolesChanged', 'IncidentEscalated']);

function params(incident: Incident, actor: Actor, locale: Locale, ctx: PlanContext): Record<string, string | number> {
  const m = incident.major;
  const nobody = t(locale, 'card.nobody');
  return {
    number: incident.number,
    title: incident.title,
    priority: t(locale, `priority.${incident.priority}` as MessageKey),
    actor: actor.kind === 'person' ? actor.person.name : t(locale, 'actor.system'),
    commander: m?.commander?.name ?? nobody,
    comms: m?.commsLead?.name ?? nobody,
    assignee: incident.assignee?.name ?? nobody,
    cadence: humanDuration(m?.cadenceMs ?? ctx.policy.major.updateEveryMs, locale),
    rooms: (m?.rooms ?? []).map((r) => `#${r.name}`).join(', '),
  };
}

/** A message on one platform: into the incident's room, or to a person's DM. */
function say(platform: Platform, target: Target, locale: Locale, key: MessageKey, text: string): Effect {
  return { kind: 'message.send', platform, target, locale, key, text };
}

function personMessages(personKey: string, key: MessageKey, build: (locale: Locale) => string, ctx: PlanContext, incident: Incident): Effect[] {
  const out: Effect[] = [];
  for (const platform of ctx.platforms) {
    let account = accountOf(ctx.policy, personKey, platform);
    // A guest (not in the policy) is reachable on the platform they reported from.
    if (!account && personKey === incident.reporter.id && incident.reporter.platform === platform) account = incident.reporter.platformUserId;
    if (!account) continue;
    const locale = localeOf(ctx.policy, personKey);
    out.push(say(platform, { type: 'user', id: account }, locale, key, build(locale)));
  }
  return out;
}

/**
 * Effects of the major-incident facts in `events` (and of lifecycle facts on a major incident).
 * `at` is when they were recorded.
 */
export function majorEffects(before: Incident | null, after: Incident, events: EventBody[], actor: Actor, ctx: PlanContext, at: string): Effect[] {
  const out: Effect[] = [];
  const m = after.major;
  const roomLocale = ctx.policy.locale;
  const actorId = actor.kind === 'person' ? actor.person.id : null;
  // An archived room takes no more messages (Slack: is_archived); the timeline still has it all.
  const roomOpen = !m?.archived;
  const room = (key: MessageKey, extra: Record<string, string | number> = {}) => {
    if (!roomOpen) return;
    for (const platform of ctx.platforms) {
      out.push(say(platform, { type: 'room', id: '' }, roomLocale, key, t(roomLocale, key, { ...params(after, actor, roomLocale, ctx), ...extra })));
    }
  };
  const managers = [...new Set([...ctx.policy.roles.incident_manager, ...ctx.policy.roles.project_manager])];
  const askCards = (createIfMissing: boolean) => {
    for (const key of managers) {
      for (const platform of ctx.platforms) {
        const account = accountOf(ctx.policy, key, platform);
        if (!account) continue;
        out.push({ kind: 'card.sync', platform, purpose: `major:${key}`, target: { type: 'user', id: account }, locale: localeOf(ctx.policy, key), createIfMissing });
      }
    }
  };

  for (const e of events) {
    switch (e.type) {
      case 'MajorIncidentDeclared': {
        // The room first: everything said in it below is queued behind it (per-incident order).
        for (const platform of ctx.platforms) out.push({ kind: 'room.open', platform, locale: roomLocale });
        room('room.declared', { actor: e.automatic ? t(roomLocale, 'major.by_priority') : params(after, actor, roomLocale, ctx).actor! });
        askCards(true);
        // The reporter hears of it unless they declared it themselves (a P1 report is declared by the bot).
        if (after.reporter.id !== actorId || e.automatic) {
          out.push(...personMessages(after.reporter.id, 'notify.major.reporter', (l) => t(l, 'notify.major.reporter', params(after, actor, l, ctx)), ctx, after));
        }
        break;
      }
      case 'MajorIncidentConfirmed':
        room('room.confirmed');
        askCards(false);
        break;
      case 'MajorIncidentDowngraded':
        room('room.downgraded', { reason: e.reason });
        askCards(false);
        break;
      case 'WarRoomOpened': {
        // Say where the room is under the queue card, so the queue can follow it there.
        const channel = ctx.policy.tiers[after.tier].queues[e.platform];
        if (channel) {
          const key: MessageKey = 'notify.major.room_open';
          out.push({
            kind: 'message.send',
            platform: e.platform,
            target: { type: 'channel', id: channel },
            locale: roomLocale,
            key,
            text: t(roomLocale, key, { number: after.number, room: `#${e.name}` }),
            thread: { purpose: `queue:${after.tier}`, broadcast: false },
          });
        }
        if (e.uninvited.length) room('room.uninvited', { names: e.uninvited.map((u) => `${u.name} (${u.error})`).join(', ') });
        break;
      }
      case 'WarRoomJoinRequested':
        out.push({ kind: 'room.invite', platform: e.platform, locale: roomLocale, people: [e.user] });
        break;
      case 'WarRoomMembersAdded':
        if (e.uninvited.length) room('room.uninvited', { names: e.uninvited.map((u) => `${u.name} (${u.error})`).join(', ') });
        break;
      case 'MajorRolesChanged':
        room('room.roles');
        break;
      case 'StatusUpdatePosted': {
        const n = m?.updates ?? 1;
        room('room.update', { n, text: e.text });
        // The reporter and every linked reporter hear each update where they reported (003).
        const listeners = [after.reporter.id, ...(m?.linked ?? []).map((l) => l.reporter.id)];
        for (const who of [...new Set(listeners)]) {
          if (who === actorId) continue;
          const linked = m?.linked.find((l) => l.reporter.id === who);
          const reporter = linked?.reporter ?? after.reporter;
          const msgs = personMessages(who, 'notify.major.update', (l) => t(l, 'notify.major.update', { ...params(after, actor, l, ctx), text: e.text, n }), ctx, { ...after, reporter });
          out.push(...msgs);
        }
        break;
      }
      case 'UpdateReminderSent': {
        const last = m?.lastUpdateAt ? formatTime(m.lastUpdateAt, roomLocale, ctx.policy.timeZone) : t(roomLocale, 'major.no_update_yet');
        room('room.reminder', { last });
        if (m?.commander) {
          out.push(...personMessages(m.commander.id, 'notify.major.reminder', (l) => t(l, 'notify.major.reminder', { ...params(after, actor, l, ctx), last }), ctx, after));
        }
        break;
      }
      case 'ReportLinked':
        room('room.linked', { child: e.number, reporter: e.reporter.name, count: m?.linked.length ?? 1 });
        break;
      case 'LinkedToMajor':
        if (after.reporter.id !== actorId || e.automatic) {
          out.push(
            ...personMessages(after.reporter.id, 'notify.major.known_outage', (l) => t(l, 'notify.major.known_outage', { child: after.number, number: e.number, title: e.title }), ctx, after),
          );
        }
        break;
      case 'ReviewScheduled':
        room('room.review', { owner: e.owner?.name ?? t(roomLocale, 'card.nobody'), due: formatTime(e.dueAt, roomLocale, ctx.policy.timeZone) });
        break;
      case 'WarRoomArchived':
        for (const platform of ctx.platforms) out.push({ kind: 'room.archive', platform });
        break;
      case 'IncidentResolved':
        if (isLiveMajor(after)) {
          for (const platform of ctx.platforms) out.push({ kind: 'room.report', platform, locale: roomLocale });
          for (const l of m?.linked ?? []) {
            out.push(
              ...personMessages(l.reporter.id, 'notify.major.resolved', (loc) => t(loc, 'notify.major.resolved', { ...params(after, actor, loc, ctx), child: l.number, note: truncate(e.note, 500) }), ctx, {
                ...after,
                reporter: l.reporter,
              }),
            );
          }
        }
        break;
      case 'IncidentClosed':
      case 'ResolutionConfirmed':
        if (m && m.rooms.length) {
          const when = m.archiveAfterMs === null ? t(roomLocale, 'major.archive_never') : t(roomLocale, 'major.archive_in', { after: humanDuration(m.archiveAfterMs, roomLocale) });
          room('room.closed', { when });
        }
        break;
      default:
        break;
    }
    if (m && ROOM_NEWS.has(e.type)) {
      const entry: TimelineEntry = { incidentId: after.id, seq: 0, at, actor, platform: 'system', automatic: actor.kind === 'system', event: e, status: after.status };
      const line = e.type === 'NoteAdded' ? t(roomLocale, 'room.note', { author: e.author?.name ?? params(after, actor, roomLocale, ctx).actor!, text: truncate(e.text, 500) }) : outcomeLine(entry, { policy: ctx.policy, locale: roomLocale });
      // A message marked by reaction is already in the room; a typed note is echoed (a slash
      // command's text is seen by no one else).
      if (!(e.type === 'NoteAdded' && e.source === 'reaction')) room('room.event', { line });
    }
  }

  if (m) {
    if (events.some((e) => NEW_MEMBERS.has(e.type)) && m.rooms.length && roomOpen) {
      for (const platform of ctx.platforms) out.push({ kind: 'room.invite', platform, locale: roomLocale, people: [] });
    }
    // The pinned summary stays current on every change (rendered at delivery from the latest state).
    for (const platform of roomOpen ? ctx.platforms : []) {
      out.push({ kind: 'card.sync', platform, purpose: 'war_room', target: { type: 'room', id: '' }, locale: roomLocale, createIfMissing: false });
    }
  }
  void before;
  return out;
}
