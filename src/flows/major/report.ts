/**
 * The major incident analysis report 《重大事件处理分析报告》 (DOMAIN.md §6, seed 003): built
 * only from the incident and its timeline, so it can be rebuilt at any time and always tells what
 * was recorded: summary, impact, timeline, root cause or workaround, actions, durations against
 * the SLA, participants and the post-incident review. Pure.
 */
import type { TimelineEntry } from '../incident/events';
import type { Incident } from '../incident/model';
import { outcomeLine } from '../messages/cards';
import { t, type MessageKey } from '../messages/catalog';
import { formatTime, humanDuration } from '../messages/format';
import type { Locale, Policy } from '../policy/policy';
import { clockView } from '../policy/sla';

export interface ReportSection {
  heading: string;
  /** Label/value pairs shown as a list. */
  facts: { label: string; value: string }[];
  /** Free lines (timeline entries, actions), in order. */
  lines: string[];
}

export interface MajorReport {
  title: string;
  number: string;
  sections: ReportSection[];
}

export interface ReportContext {
  policy: Policy;
  locale: Locale;
  /** When it is built (epoch ms): durations of a still-open incident run to now. */
  now: number;
}

const time = (iso: string | null, ctx: ReportContext) => (iso ? formatTime(iso, ctx.locale, ctx.policy.timeZone) : '—');

/** The timeline line of one entry: what happened, by whom, when. */
function timelineLine(e: TimelineEntry, ctx: ReportContext): string {
  const at = time(e.at, ctx);
  const who = e.actor.kind === 'person' ? e.actor.person.name : t(ctx.locale, 'actor.system');
  const ev = e.event;
  switch (ev.type) {
    case 'StatusUpdatePosted':
      return t(ctx.locale, 'report.line.update', { time: at, actor: who, text: ev.text });
    case 'NoteAdded':
      return t(ctx.locale, 'report.line.note', { time: at, actor: ev.author?.name ?? who, text: ev.text });
    case 'MajorIncidentDeclared':
      return t(ctx.locale, 'report.line.declared', { time: at, actor: ev.automatic ? t(ctx.locale, 'major.by_priority') : who });
    case 'MajorIncidentConfirmed':
      return t(ctx.locale, 'report.line.confirmed', { time: at, actor: who });
    case 'MajorIncidentDowngraded':
      return t(ctx.locale, 'report.line.downgraded', { time: at, actor: who, reason: ev.reason });
    case 'WarRoomOpened':
      return t(ctx.locale, 'report.line.room', { time: at, room: `#${ev.name}`, invited: ev.invited });
    case 'WarRoomMembersAdded':
      return t(ctx.locale, 'report.line.members', { time: at, names: ev.names.join(', ') || '—' });
    case 'WarRoomArchived':
      return t(ctx.locale, 'report.line.archived', { time: at });
    case 'WarRoomJoinRequested':
      return t(ctx.locale, 'report.line.join', { time: at, actor: who });
    case 'MajorRolesChanged':
      return t(ctx.locale, 'report.line.roles', { time: at, actor: who, commander: ev.commander?.name ?? '—', comms: ev.commsLead?.name ?? '—' });
    case 'UpdateReminderSent':
      return t(ctx.locale, 'report.line.reminder', { time: at });
    case 'ReportLinked':
      return t(ctx.locale, 'report.line.linked', { time: at, child: ev.number, reporter: ev.reporter.name });
    case 'LinkedToMajor':
      return t(ctx.locale, 'report.line.linked_to', { time: at, number: ev.number });
    case 'ReviewScheduled':
      return t(ctx.locale, 'report.line.review', { time: at, owner: ev.owner?.name ?? '—', due: time(ev.dueAt, ctx) });
    case 'IncidentReported':
      return t(ctx.locale, 'report.line.reported', { time: at, actor: who });
    default:
      return `${at} · ${withoutTime(outcomeLine(e, { policy: ctx.policy, locale: ctx.locale }), at)}`;
  }
}

/**
 * An outcome line ("Accepted by Li Wei 11-22 10:42", "李伟 于 11月22日 10:42 受理") without its
 * time, which the report puts in front of every line instead.
 */
export function withoutTime(line: string, time: string): string {
  // The first spelling that matches, once: a due time equal to the entry's time must stay.
  const spellings: [string, string][] = [
    [` 于 ${time} `, ' '],
    [`于 ${time} `, ''],
    [` 于 ${time}`, ''],
    [`${time} `, ''],
    [` ${time}`, ''],
    [time, ''],
  ];
  const hit = spellings.find(([s]) => line.includes(s));
  return (hit ? line.replace(hit[0], hit[1]) : line).replace(/\s{2,}/g, ' ').trim();
}

/** Builds the report from the incident and its whole timeline (oldest first). */
export function buildMajorReport(incident: Incident, timeline: TimelineEntry[], ctx: ReportContext): MajorReport {
  const { locale } = ctx;
  const l = (k: MessageKey, p: Record<string, string | number> = {}) => t(locale, k, p);
  const m = incident.major;
  const nobody = l('card.nobody');
  const end = incident.resolvedAt ? Date.parse(incident.resolvedAt) : ctx.now;
  const declaredAt = m?.declaredAt ?? null;

  const summary: ReportSection = {
    heading: l('report.summary'),
    facts: [
      { label: l('report.incident'), value: `${incident.number} · ${incident.title}` },
      { label: l('card.field.priority'), value: l(`priority.${incident.priority}` as MessageKey) },
      { label: l('card.field.category'), value: l(`category.${incident.category}` as MessageKey) },
      { label: l('card.field.status'), value: l(`status.${incident.status}` as MessageKey) },
      { label: l('card.field.major'), value: m ? l(`major.state.${m.state}` as MessageKey) : '—' },
      { label: l('card.field.reported'), value: time(incident.reportedAt, ctx) },
      { label: l('report.declared'), value: time(declaredAt, ctx) },
      { label: l('report.resolved'), value: time(incident.resolvedAt, ctx) },
      { label: l('report.closed'), value: time(incident.closedAt, ctx) },
    ],
    lines: [],
  };

  const impact: ReportSection = {
    heading: l('report.impact'),
    facts: [
      { label: l('card.field.impact_urgency'), value: `${l(`level.${incident.impact}` as MessageKey)} / ${l(`level.${incident.urgency}` as MessageKey)}` },
      { label: l('card.field.system'), value: incident.system || '—' },
      { label: l('report.location'), value: incident.location || '—' },
      { label: l('report.linked_reports'), value: m?.linked.length ? m.linked.map((x) => `${x.number} (${x.reporter.name})`).join(', ') : '0' },
    ],
    lines: incident.description ? [incident.description] : [],
  };

  const cause: ReportSection = {
    heading: l('report.cause'),
    facts: incident.resolutionCode
      ? [
          { label: l('form.field.code'), value: l(`code.${incident.resolutionCode}` as MessageKey) },
          { label: l('report.resolver_tier'), value: incident.resolverTier ? l(`tier.${incident.resolverTier}` as MessageKey) : '—' },
        ]
      : [],
    lines: [incident.resolutionNote ?? l('report.not_resolved')],
  };

  const updates = timeline.filter((e) => e.event.type === 'StatusUpdatePosted' || e.event.type === 'NoteAdded');
  const actions: ReportSection = {
    heading: l('report.actions'),
    facts: [],
    lines: updates.length ? updates.map((e) => timelineLine(e, ctx)) : [l('report.no_actions')],
  };

  const response = clockView(incident, 'response', ctx.now);
  const resolution = clockView(incident, 'resolution', ctx.now);
  const clock = (v: ReturnType<typeof clockView>) =>
    l('report.clock', { state: l(`sla.state.${v.state}` as MessageKey), used: humanDuration(v.elapsedMs, locale), target: humanDuration(v.targetMs, locale) });
  const durations: ReportSection = {
    heading: l('report.durations'),
    facts: [
      { label: l('report.response'), value: clock(response) },
      { label: l('report.resolution'), value: clock(resolution) },
      { label: l('report.to_declare'), value: declaredAt ? humanDuration(Date.parse(declaredAt) - Date.parse(incident.reportedAt), locale) : '—' },
      { label: l(incident.resolvedAt ? 'report.total' : 'report.so_far'), value: humanDuration(end - Date.parse(incident.reportedAt), locale) },
      { label: l('report.paused'), value: humanDuration(incident.pendingMs, locale) },
      { label: l('report.escalations'), value: String(incident.escalationCount) },
      { label: l('report.updates'), value: String(m?.updates ?? 0) },
    ],
    lines: [],
  };

  // Everyone who acted, with the roles they held: the commander, comms lead, assignee, owner, reporter.
  const roles = new Map<string, { name: string; roles: Set<string> }>();
  const add = (id: string | undefined, name: string | undefined, role: string | null) => {
    if (!id || !name) return;
    const r = roles.get(id) ?? { name, roles: new Set<string>() };
    if (role) r.roles.add(role);
    roles.set(id, r);
  };
  add(m?.commander?.id, m?.commander?.name, l('summary.commander'));
  add(m?.commsLead?.id, m?.commsLead?.name, l('summary.comms'));
  add(incident.assignee?.id, incident.assignee?.name, l('card.field.assignee'));
  add(incident.owner?.id, incident.owner?.name, l('card.field.owner'));
  add(incident.reporter.id, incident.reporter.name, l('card.field.reporter'));
  const roleOf = (id: string) =>
    ctx.policy.roles.incident_manager.includes(id) ? l('role.incident_manager') : ctx.policy.roles.project_manager.includes(id) ? l('role.project_manager') : null;
  for (const e of timeline) {
    if (e.actor.kind === 'person') add(e.actor.person.id, e.actor.person.name, roleOf(e.actor.person.id));
    if (e.event.type === 'NoteAdded' && e.event.author) add(e.event.author.id, e.event.author.name, roleOf(e.event.author.id));
  }
  const participants: ReportSection = {
    heading: l('report.participants'),
    facts: [],
    lines: [...roles.values()].map((p) => (p.roles.size ? `${p.name} (${[...p.roles].join(', ')})` : p.name)),
  };

  const review: ReportSection = {
    heading: l('report.review'),
    facts: m?.review
      ? [
          { label: l('report.review_owner'), value: m.review.owner?.name ?? nobody },
          { label: l('report.review_due'), value: time(m.review.dueAt, ctx) },
        ]
      : [],
    lines: m?.review ? [] : [l('report.no_review')],
  };

  return {
    title: l('report.title', { number: incident.number, title: incident.title }),
    number: incident.number,
    sections: [
      summary,
      impact,
      { heading: l('report.timeline'), facts: [], lines: timeline.map((e) => timelineLine(e, ctx)) },
      cause,
      actions,
      durations,
      participants,
      review,
    ],
  };
}

/** The report as a Markdown document (the export). */
export function reportToMarkdown(report: MajorReport): string {
  const out = [`# ${report.title}`, ''];
  for (const s of report.sections) {
    out.push(`## ${s.heading}`, '');
    for (const f of s.facts) out.push(`- **${f.label}**: ${f.value.replace(/\n/g, ' ')}`);
    if (s.facts.length && s.lines.length) out.push('');
    for (const line of s.lines) out.push(s.facts.length || s.lines.length > 1 ? `- ${line.replace(/\n/g, '\n  ')}` : line);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/**
 * The report as one chat message (Slack mrkdwn, which the console prints as is): bold headings,
 * bullet lines. Kept whole; the platform port splits or trims what its limits do not take.
 */
export function reportToChat(report: MajorReport): string {
  const out = [`*${report.title}*`];
  for (const s of report.sections) {
    out.push('', `*${s.heading}*`);
    for (const f of s.facts) out.push(`• ${f.label}: ${f.value.replace(/\n/g, ' ')}`);
    for (const line of s.lines) out.push(s.facts.length || s.lines.length > 1 ? `• ${line}` : line);
  }
  return out.join('\n');
}
