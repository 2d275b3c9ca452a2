/**
 * The major incident's cards (DOMAIN.md §6): the war-room summary that is pinned and kept current,
 * the card that asks the incident / project manager to confirm or downgrade, and the lines an
 * ordinary incident card gains (the room, the known outage it is linked to).
 */
import type { TimelineEntry } from '../incident/events';
import type { Incident } from '../incident/model';
import { OPEN_STATUSES, updateDueAt } from '../incident/model';
import type { CardButton, CardField, NeutralCard } from '../messages/card';
import { button, outcomeLine, slaFields, type CardContext } from '../messages/cards';
import { t, type MessageKey } from '../messages/catalog';
import { formatTime, humanDuration, truncate } from '../messages/format';

/** What an incident card shows of the major side: its state, its rooms, or the outage it belongs to. */
export function majorFields(incident: Incident, ctx: CardContext): CardField[] {
  const { locale } = ctx;
  const out: CardField[] = [];
  const m = incident.major;
  if (m) {
    out.push({ label: t(locale, 'card.field.major'), value: t(locale, `major.state.${m.state}` as MessageKey) });
    for (const r of m.rooms) {
      out.push({ label: t(locale, 'card.field.war_room'), value: `#${r.name}`, channel: { platform: r.platform, id: r.channel } });
    }
  }
  if (incident.linkedTo) {
    out.push({ label: t(locale, 'card.field.linked_to'), value: t(locale, 'card.linked_to', { number: incident.linkedTo.number, title: incident.linkedTo.title }) });
  }
  return out;
}

/** When the next update is due, as the summary says it: "11-22 10:42", "overdue since …", or none. */
function nextUpdate(incident: Incident, ctx: CardContext, now: number): string {
  const due = updateDueAt(incident);
  if (!due) return t(ctx.locale, 'summary.no_cadence');
  const at = formatTime(due, ctx.locale, ctx.policy.timeZone);
  return Date.parse(due) <= now ? t(ctx.locale, 'summary.overdue', { due: at }) : at;
}

/**
 * The pinned summary in the war room: one current picture (status, priority, tier, roles,
 * elapsed, next update due, SLA state), with the room's own buttons while the incident is open.
 */
export function summaryCard(incident: Incident, last: TimelineEntry | null, ctx: CardContext, now: number, baseFields: CardField[]): NeutralCard {
  const { locale, policy } = ctx;
  const l = (k: MessageKey) => t(locale, k);
  const m = incident.major!;
  const nobody = l('card.nobody');
  const end = incident.closedAt ?? incident.resolvedAt;
  const elapsed = humanDuration((end ? Date.parse(end) : now) - Date.parse(incident.reportedAt), locale);
  const byLabel = (k: MessageKey) => baseFields.find((f) => f.label === l(k));
  const fields: CardField[] = [
    byLabel('card.field.status')!,
    byLabel('card.field.priority')!,
    byLabel('card.field.tier')!,
    { label: l('card.field.major'), value: l(`major.state.${m.state}` as MessageKey) },
    { label: l('summary.commander'), value: m.commander?.name ?? nobody },
    { label: l('summary.comms'), value: m.commsLead?.name ?? nobody },
    { label: l('card.field.assignee'), value: incident.assignee?.name ?? nobody },
    { label: l('summary.elapsed'), value: elapsed },
    { label: l('summary.next_update'), value: nextUpdate(incident, ctx, now) },
  ];
  if (incident.owner) fields.push({ label: l('card.field.owner'), value: incident.owner.name });
  if (incident.system) fields.push({ label: l('card.field.system'), value: incident.system });
  if (m.linked.length) fields.push({ label: l('summary.linked'), value: m.linked.map((x) => x.number).join(', ') });
  if (m.review) {
    fields.push({ label: l('summary.review'), value: t(locale, 'summary.review_value', { owner: m.review.owner?.name ?? nobody, due: formatTime(m.review.dueAt, locale, policy.timeZone) }) });
  }
  fields.push(...slaFields(incident, ctx, now));
  const open = OPEN_STATUSES.includes(incident.status) || incident.status === 'resolved';
  const buttons: CardButton[] = [];
  if (open) {
    buttons.push(button('war_room.update', incident, locale, 'primary'), button('war_room.roles', incident, locale));
    // The third role, the assignee, is changed as everywhere else: by reassigning.
    if (incident.status === 'new' || incident.status === 'in_progress') buttons.push(button('incident.reassign', incident, locale));
    if (m.state === 'declared') buttons.push(button('major.confirm', incident, locale), button('major.downgrade', incident, locale, 'danger'));
  }
  const latest = m.lastUpdate
    ? t(locale, 'summary.latest', { n: m.updates, time: formatTime(m.lastUpdateAt!, locale, policy.timeZone), text: truncate(m.lastUpdate, 1200) })
    : l('summary.no_update');
  const lastLine = last ? outcomeLine(last, ctx) : null;
  return {
    title: t(locale, 'summary.title', { number: incident.number, title: incident.title }),
    body: latest,
    fields,
    context: lastLine ? [lastLine] : [],
    buttons,
    outcome: buttons.length ? null : lastLine,
    fallback: t(locale, 'summary.fallback', { number: incident.number, status: l(`status.${incident.status}` as MessageKey) }),
    accent: incident.status === 'closed' ? 'done' : 'critical',
  };
}

/** The direct-message card asking an incident / project manager to confirm or downgrade. */
export function majorAskCard(
  incident: Incident,
  last: TimelineEntry | null,
  ctx: CardContext,
  base: { title: string; fields: CardField[]; accent: NeutralCard['accent'] },
): NeutralCard {
  const { locale } = ctx;
  const m = incident.major;
  const live = m?.state === 'declared' && OPEN_STATUSES.includes(incident.status);
  const by = m?.declaredBy?.name ?? t(locale, 'major.by_priority');
  const body = t(locale, 'card.major.ask', { number: incident.number, by });
  const lastLine = last ? outcomeLine(last, ctx) : null;
  const decided = m ? t(locale, `major.state.${m.state}` as MessageKey) : '';
  return {
    ...base,
    body: live ? `${body}\n${truncate(incident.description, 1000)}`.trim() : truncate(incident.description, 1000),
    fallback: live ? body : `${base.title}: ${decided}`,
    context: [],
    buttons: live ? [button('major.confirm', incident, locale, 'primary'), button('major.downgrade', incident, locale, 'danger')] : [],
    outcome: live ? null : `${decided}${lastLine ? ` · ${lastLine}` : ''}`,
  };
}
