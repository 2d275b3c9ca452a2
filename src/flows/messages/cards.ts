import type { TimelineEntry, EventBody } from '../incident/events';
import type { Incident, Tier } from '../incident/model';
import { FINAL_STATUSES } from '../incident/model';
import type { Locale, Policy } from '../policy/policy';
import type { ActionId, CardButton, CardField, NeutralCard } from './card';
import { majorAskCard, majorFields, summaryCard } from '../major/summary';
import { encodeButtonValue } from './card';
import { t, type MessageKey } from './catalog';
import { formatTime, humanDuration, truncate } from './format';
import { clockView } from '../policy/sla';

export interface CardContext {
  policy: Policy;
  locale: Locale;
  /** When the card is rendered (epoch ms), for the clocks' state; defaults to the incident's last change. */
  now?: number;
}

const ACCENT = { P1: 'critical', P2: 'high', P3: 'medium', P4: 'low' } as const;

function actorName(entry: TimelineEntry, locale: Locale): string {
  return entry.actor.kind === 'person' ? entry.actor.person.name : t(locale, 'actor.system');
}

/** The one line that says what happened last: "Accepted by Li Wei 11-22 10:42". */
export function outcomeLine(entry: TimelineEntry, ctx: CardContext): string {
  const { locale } = ctx;
  const time = formatTime(entry.at, locale, ctx.policy.timeZone);
  const actor = actorName(entry, locale);
  const e: EventBody = entry.event;
  const tier = (x: Tier) => t(locale, `tier.${x}` as MessageKey);
  switch (e.type) {
    case 'IncidentEscalated':
      if (e.matrixAfterMs === 0) {
        return t(locale, 'outcome.IncidentEscalatedAutoAtOnce', { time, toTier: tier(e.toTier) });
      }
      if (e.matrixAfterMs !== undefined) {
        return t(locale, 'outcome.IncidentEscalatedAuto', { time, toTier: tier(e.toTier), after: humanDuration(e.matrixAfterMs, locale) });
      }
      return t(locale, 'outcome.IncidentEscalated', { actor, time, toTier: tier(e.toTier), reason: e.reason });
    case 'SlaThresholdReached':
      return t(locale, `outcome.sla.${e.threshold}`, {
        time,
        clock: t(locale, `sla.clock.${e.clock}`),
        due: formatTime(e.dueAt, locale, ctx.policy.timeZone),
      });
    case 'EscalationStepReached': {
      const after = humanDuration(e.afterMs, locale);
      if (e.role) return t(locale, 'outcome.matrix.notified', { time, after, role: t(locale, `role.${e.role}`) });
      return t(locale, 'outcome.matrix.already', { time, after, tier: e.tier ? tier(e.tier) : '' });
    }
    case 'IncidentReassigned':
      return t(locale, 'outcome.IncidentReassigned', {
        actor,
        time,
        target: e.assignee ? `${e.assignee.name} (${tier(e.toTier)})` : tier(e.toTier),
        reason: e.reason,
      });
    case 'IncidentRejected':
    case 'RequestDenied':
    case 'IncidentReopened':
      return t(locale, `outcome.${e.type}`, { actor, time, reason: e.reason });
    case 'IncidentHeld':
      return e.until
        ? t(locale, 'outcome.IncidentHeldUntil', { actor, time, reason: e.reason, until: formatTime(e.until, locale, ctx.policy.timeZone) })
        : t(locale, 'outcome.IncidentHeld', { actor, time, reason: e.reason });
    case 'IncidentResolved':
      return t(locale, 'outcome.IncidentResolved', { actor, time, code: t(locale, `code.${e.code}` as MessageKey), note: truncate(e.note, 300) });
    case 'IncidentRated':
      return t(locale, 'outcome.IncidentRated', { actor, time, score: e.score });
    case 'PriorityChanged':
      return t(locale, 'outcome.PriorityChanged', {
        actor,
        time,
        from: t(locale, `priority.${e.from}` as MessageKey),
        to: t(locale, `priority.${e.to}` as MessageKey),
        reason: e.reason,
      });
    case 'MajorIncidentDeclared':
      return t(locale, 'outcome.MajorIncidentDeclared', { actor: e.automatic ? t(locale, 'major.by_priority') : actor, time });
    case 'MajorIncidentDowngraded':
      return t(locale, 'outcome.MajorIncidentDowngraded', { actor, time, reason: e.reason });
    case 'WarRoomOpened':
      return t(locale, 'outcome.WarRoomOpened', { time, room: `#${e.name}` });
    case 'WarRoomJoinRequested':
      return t(locale, 'outcome.WarRoomJoinRequested', { actor, time });
    case 'WarRoomMembersAdded':
      return t(locale, 'outcome.WarRoomMembersAdded', { time, names: [...e.names, ...e.uninvited.map((u) => `${u.name} ✗`)].join(', ') });
    case 'MajorRolesChanged':
      return t(locale, 'outcome.MajorRolesChanged', { actor, time, commander: e.commander?.name ?? '—', comms: e.commsLead?.name ?? '—' });
    case 'StatusUpdatePosted':
      return t(locale, 'outcome.StatusUpdatePosted', { actor, time, text: truncate(e.text, 300) });
    case 'NoteAdded':
      return t(locale, 'outcome.NoteAdded', { actor: e.author?.name ?? actor, time, text: truncate(e.text, 300) });
    case 'ReportLinked':
      return t(locale, 'outcome.ReportLinked', { time, child: e.number });
    case 'LinkedToMajor':
      return t(locale, 'outcome.LinkedToMajor', { time, number: e.number });
    case 'ReviewScheduled':
      return t(locale, 'outcome.ReviewScheduled', { owner: e.owner?.name ?? '—', due: formatTime(e.dueAt, locale, ctx.policy.timeZone) });
    case 'DeliveryFailed': {
      const what = e.what.startsWith('card') ? 'card' : e.what.startsWith('message') ? 'message' : 'room';
      return t(locale, 'outcome.DeliveryFailed', {
        time,
        what: t(locale, `delivery.what.${what}`),
        platform: t(locale, `platform.${e.platform}`),
        attempts: e.attempts,
        error: truncate(e.error, 200),
      });
    }
    default:
      return t(locale, `outcome.${e.type}` as MessageKey, { actor, time });
  }
}

export function button(actionId: ActionId, incident: Incident, locale: Locale, style: CardButton['style'] = 'default', arg?: string): CardButton {
  const label = t(locale, `button.${actionId}` as MessageKey, arg ? { score: arg } : {});
  const value = encodeButtonValue(arg ? { incidentId: incident.id, version: incident.version, arg } : { incidentId: incident.id, version: incident.version });
  return { actionId, label, value, style };
}

/** Buttons a queue card offers in each status; who may press them is decided on click. */
export function queueButtons(incident: Incident, locale: Locale): CardButton[] {
  const b = (id: ActionId, style: CardButton['style'] = 'default') => button(id, incident, locale, style);
  switch (incident.status) {
    case 'pending_approval':
      return [b('request.approve', 'primary'), b('request.deny', 'danger')];
    case 'new':
      // Escalating needs an assignee (or an incident manager): the queue accepts first, so no
      // Escalate button here that its members could not use.
      return [b('incident.accept', 'primary'), b('incident.resolve'), b('incident.reject', 'danger'), ...majorButton(incident, b)];
    case 'in_progress':
      return [b('incident.resolve', 'primary'), b('incident.escalate'), b('incident.hold'), b('incident.reassign'), ...majorButton(incident, b)];
    case 'pending':
      return [b('incident.resume', 'primary'), b('incident.resolve'), ...majorButton(incident, b)];
    default:
      return [];
  }
}

/** Declare major on an ordinary open incident; Join war room once it has one. */
function majorButton(incident: Incident, b: (id: ActionId, style?: CardButton['style']) => CardButton): CardButton[] {
  if (incident.linkedTo) return [];
  if (!incident.major || incident.major.state === 'downgraded') {
    return incident.major?.rooms.length ? [b('war_room.join')] : [b('incident.declare_major', 'danger')];
  }
  return incident.major.rooms.length ? [b('war_room.join')] : [];
}

function fields(incident: Incident, ctx: CardContext, now: number): CardField[] {
  const { locale, policy } = ctx;
  const l = (k: MessageKey) => t(locale, k);
  const person = (p: Incident['assignee']) => (p ? p.name : l('card.nobody'));
  const keyUser = policy.keyUsers.includes(incident.reporter.id) ? ` (${l('card.key_user')})` : '';
  const out: CardField[] = [
    { label: l('card.field.priority'), value: l(`priority.${incident.priority}` as MessageKey) },
    { label: l('card.field.status'), value: l(`status.${incident.status}` as MessageKey) },
    { label: l('card.field.tier'), value: l(`tier.${incident.tier}` as MessageKey) },
    { label: l('card.field.category'), value: l(`category.${incident.category}` as MessageKey) },
    { label: l('card.field.reporter'), value: `${incident.reporter.name}${keyUser}` },
    { label: l('card.field.assignee'), value: person(incident.assignee) },
    {
      label: l('card.field.impact_urgency'),
      value: `${l(`level.${incident.impact}` as MessageKey)} / ${l(`level.${incident.urgency}` as MessageKey)}`,
    },
    { label: l('card.field.reported'), value: formatTime(incident.reportedAt, locale, policy.timeZone) },
  ];
  if (incident.system) out.splice(4, 0, { label: l('card.field.system'), value: incident.system });
  if (incident.owner && incident.owner.id !== incident.assignee?.id) {
    out.push({ label: l('card.field.owner'), value: incident.owner.name });
  }
  if (incident.waitUntil) {
    out.push({ label: l('card.field.waiting_until'), value: formatTime(incident.waitUntil, locale, policy.timeZone) });
  }
  if (incident.resolutionCode && incident.resolutionNote) {
    out.push({
      label: l('card.field.resolution'),
      value: `${l(`code.${incident.resolutionCode}` as MessageKey)}: ${truncate(incident.resolutionNote, 500)}`,
    });
  }
  if (incident.rating !== null) out.push({ label: l('card.field.rating'), value: `${incident.rating}/5` });
  out.push(...majorFields(incident, ctx));
  out.push(...slaFields(incident, ctx, now));
  return out;
}

/** The due times of the clocks, and whether a warning or breach was sent (DOMAIN.md §5). */
export function slaFields(incident: Incident, ctx: CardContext, now: number): CardField[] {
  const { locale, policy } = ctx;
  if (incident.status === 'rejected' || !incident.sla) return [];
  const out: { label: string; value: string }[] = [];
  for (const clock of ['response', 'resolution'] as const) {
    const v = clockView(incident, clock, now);
    const state = t(locale, `sla.state.${v.state}`);
    const used = humanDuration(v.elapsedMs, locale);
    const target = humanDuration(v.targetMs, locale);
    let value: string;
    if (v.state === 'met' || v.state === 'missed') value = t(locale, 'card.sla.done', { state, used, target });
    else if (v.state === 'stopped') continue;
    else if (v.dueAt === null) value = t(locale, 'card.sla.paused', { used, target });
    else {
      const due = formatTime(v.dueAt, locale, policy.timeZone);
      value = v.state === 'ok' ? t(locale, 'card.sla.due', { due }) : t(locale, 'card.sla.due_state', { due, state });
    }
    out.push({ label: t(locale, clock === 'response' ? 'card.field.response_due' : 'card.field.resolution_due'), value });
  }
  return out;
}

/**
 * The card for an incident in a given place (`queue:<tier>`, `reporter`, `approver:<key>`),
 * built from the latest state. A card that is no longer where the work happens (the ticket moved
 * tier, or it is final) shows its outcome line instead of buttons.
 */
export function buildIncidentCard(incident: Incident, purpose: string, last: TimelineEntry | null, ctx: CardContext): NeutralCard {
  return { ...cardFor(incident, purpose, last, ctx), number: incident.number };
}

function cardFor(incident: Incident, purpose: string, last: TimelineEntry | null, ctx: CardContext): NeutralCard {
  const { locale } = ctx;
  const title = t(locale, 'card.title', { number: incident.number, title: incident.title });
  const lastLine = last ? outcomeLine(last, ctx) : null;
  const accent = incident.status === 'closed' ? 'done' : ACCENT[incident.priority];
  // Without a render time, the clocks are shown as of the last recorded change.
  const now = ctx.now ?? Date.parse(last?.at ?? incident.reportedAt);
  const base = { title, fields: fields(incident, ctx, now), accent } as const;
  const final = FINAL_STATUSES.includes(incident.status);

  if (purpose === 'reporter') {
    let body = '';
    let buttons: CardButton[] = [];
    if (incident.status === 'resolved') {
      body = t(locale, 'card.reporter.resolved', {
        number: incident.number,
        name: incident.assignee?.name ?? t(locale, 'actor.system'),
        note: truncate(incident.resolutionNote ?? '', 500),
      });
      buttons = [button('incident.confirm', incident, locale, 'primary'), button('incident.reopen', incident, locale, 'danger')];
    } else if (incident.status === 'closed' && incident.rating === null) {
      body = t(locale, 'card.reporter.rate', { number: incident.number });
      buttons = [1, 2, 3, 4, 5].map((s) => button('incident.rate', incident, locale, s >= 4 ? 'primary' : 'default', String(s)));
    } else if (incident.rating !== null) {
      body = t(locale, 'card.reporter.rated', { number: incident.number, score: incident.rating });
    }
    return {
      ...base,
      body,
      fallback: body || `${title}: ${lastLine ?? ''}`,
      context: buttons.length && lastLine ? [lastLine] : [],
      buttons,
      outcome: buttons.length ? null : lastLine,
    };
  }

  if (purpose === 'war_room') return summaryCard(incident, last, ctx, now, base.fields);
  if (purpose.startsWith('major:')) return majorAskCard(incident, last, ctx, base);

  if (purpose.startsWith('approver:')) {
    const live = incident.status === 'pending_approval';
    const body = t(locale, 'card.approver.ask', { number: incident.number, reporter: incident.reporter.name });
    return {
      ...base,
      body: live ? `${body}\n${truncate(incident.description, 1500)}`.trim() : truncate(incident.description, 1500),
      fallback: live ? body : `${title}: ${lastLine ?? ''}`,
      context: [],
      buttons: live ? queueButtons(incident, locale) : [],
      outcome: live ? null : lastLine,
    };
  }

  const queueTier = purpose.startsWith('queue:') ? purpose.slice('queue:'.length) : incident.tier;
  const here = queueTier === incident.tier;
  const buttons = here && !final ? queueButtons(incident, locale) : [];
  const outcome = buttons.length
    ? null
    : here || final
      ? lastLine
      : `${lastLine ?? ''}\n${t(locale, 'outcome.moved', { tier: t(locale, `tier.${incident.tier}` as MessageKey) })}`.trim();
  return {
    ...base,
    body: truncate(incident.description, 1500),
    fallback: `${title} [${t(locale, `status.${incident.status}` as MessageKey)}]`,
    context: buttons.length && lastLine ? [lastLine] : [],
    buttons,
    outcome,
  };
}
