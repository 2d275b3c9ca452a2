import { CATEGORIES, LEVELS, RESOLUTION_CODES, TIERS, type Incident } from '../incident/model';
import { LIMITS } from '../incident/decide';
import type { Command, ReportInput } from '../incident/commands';
import type { Locale, Policy } from '../policy/policy';
import type { ActionId, NeutralForm } from './card';
import { t, type MessageKey } from './catalog';

const opts = (locale: Locale, prefix: string, values: readonly string[]) =>
  values.map((v) => ({ value: v, label: t(locale, `${prefix}.${v}` as MessageKey) }));

/** The full report form (DOMAIN.md §1 fields a reporter knows). */
export function reportForm(locale: Locale, policy: Policy, initialTitle = ''): NeutralForm {
  const l = (k: MessageKey) => t(locale, k);
  return {
    id: 'report',
    title: l('form.report.title'),
    submit: l('form.report.submit'),
    fields: [
      { id: 'title', label: l('form.field.title'), kind: 'text', optional: false, maxLength: LIMITS.title, initial: initialTitle, placeholder: l('form.field.title.placeholder') },
      { id: 'description', label: l('form.field.description'), kind: 'multiline', optional: true, maxLength: LIMITS.description },
      { id: 'category', label: l('form.field.category'), kind: 'select', optional: false, options: opts(locale, 'category', CATEGORIES), initial: policy.defaults.category },
      { id: 'impact', label: l('form.field.impact'), kind: 'select', optional: false, options: opts(locale, 'level', LEVELS), initial: policy.defaults.impact },
      { id: 'urgency', label: l('form.field.urgency'), kind: 'select', optional: false, options: opts(locale, 'level', LEVELS), initial: policy.defaults.urgency },
      { id: 'system', label: l('form.field.system'), kind: 'text', optional: true, maxLength: LIMITS.system, initial: policy.defaults.system || undefined },
      { id: 'location', label: l('form.field.location'), kind: 'text', optional: true, maxLength: LIMITS.location },
    ],
  };
}

/** Actions that need a reason, note or code first; the others act on one click. */
export function actionForm(actionId: ActionId, incident: Incident, locale: Locale, policy: Policy): NeutralForm | null {
  const l = (k: MessageKey) => t(locale, k);
  const reason = { id: 'reason', label: l('form.field.reason'), kind: 'multiline' as const, optional: false, maxLength: LIMITS.reason };
  const title = (k: MessageKey) => t(locale, k, { number: incident.number });
  const submit = l('form.submit');
  switch (actionId) {
    case 'incident.escalate':
      return { id: actionId, title: title('form.incident.escalate'), submit, fields: [reason] };
    case 'incident.reject':
      return { id: actionId, title: title('form.incident.reject'), submit, fields: [reason] };
    case 'incident.reopen':
      return { id: actionId, title: title('form.incident.reopen'), submit, fields: [reason] };
    case 'request.deny':
      return { id: actionId, title: title('form.request.deny'), submit, fields: [reason] };
    case 'incident.hold':
      return {
        id: actionId,
        title: title('form.incident.hold'),
        submit,
        fields: [reason, { id: 'until', label: l('form.field.until'), kind: 'datetime', optional: true, placeholder: 'YYYY-MM-DD HH:mm' }],
      };
    case 'incident.resolve':
      return {
        id: actionId,
        title: title('form.incident.resolve'),
        submit,
        fields: [
          { id: 'code', label: l('form.field.code'), kind: 'select', optional: false, options: opts(locale, 'code', RESOLUTION_CODES), initial: 'fixed' },
          { id: 'note', label: l('form.field.note'), kind: 'multiline', optional: false, maxLength: LIMITS.note },
        ],
      };
    case 'incident.reassign': {
      const people = TIERS.flatMap((tier) =>
        policy.tiers[tier].members.map((key) => ({
          value: `${tier}:${key}`,
          label: `${policy.people[key]?.name ?? key} (${t(locale, `tier.${tier}` as MessageKey)})`,
        })),
      );
      return {
        id: actionId,
        title: title('form.incident.reassign'),
        submit,
        fields: [
          { id: 'tier', label: l('form.field.tier'), kind: 'select', optional: true, options: opts(locale, 'tier', TIERS) },
          { id: 'person', label: l('form.field.person'), kind: 'select', optional: true, options: people.slice(0, 100) },
          reason,
        ],
      };
    }
    case 'war_room.update':
      return {
        id: actionId,
        title: title('form.war_room.update'),
        submit,
        fields: [{ id: 'update', label: l('form.field.update'), kind: 'multiline', optional: false, maxLength: 3000 }],
      };
    case 'major.downgrade':
      return { id: actionId, title: title('form.major.downgrade'), submit, fields: [reason] };
    case 'war_room.roles': {
      const people = Object.values(policy.people)
        .map((p) => ({ value: p.key, label: p.name }))
        .slice(0, 100);
      const m = incident.major;
      return {
        id: actionId,
        title: title('form.war_room.roles'),
        submit,
        fields: [
          { id: 'commander', label: l('form.field.commander'), kind: 'select', optional: true, options: people, ...(m?.commander && policy.people[m.commander.id] ? { initial: m.commander.id } : {}) },
          { id: 'comms', label: l('form.field.comms'), kind: 'select', optional: true, options: people, ...(m?.commsLead && policy.people[m.commsLead.id] ? { initial: m.commsLead.id } : {}) },
        ],
      };
    }
    default:
      return null;
  }
}

/**
 * Parses a wait-until time typed by a person, in the deployment's time zone
 * ("2026-11-23 09:00", "2026-11-23T09:00", or a full ISO instant). Null when not understood.
 */
export function parseLocalDateTime(text: string, timeZone: string): string | null {
  const s = text.trim();
  if (!s) return null;
  if (/[zZ]|[+-]\d\d:?\d\d$/.test(s) && !Number.isNaN(Date.parse(s))) return new Date(s).toISOString();
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return null;
  // Refuse days the month does not have (31 April, 30 February) rather than roll over.
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) return null;
  // Interpret the wall-clock time in `timeZone`: take the zone's offset at that instant.
  const guess = Date.UTC(y, mo - 1, d, h, mi);
  const offset = zoneOffsetMs(guess, timeZone);
  const first = guess - offset;
  const exact = guess - zoneOffsetMs(first, timeZone);
  return new Date(exact).toISOString();
}

function zoneOffsetMs(utcMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(utcMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

export type FormValues = Record<string, string | undefined>;

/** Turns submitted form values into a command (or a report), or names the field that is wrong. */
export function commandFromForm(
  actionId: ActionId,
  values: FormValues,
  policy: Policy,
): { ok: true; command: Command } | { ok: false; field: string; problem: string } {
  const v = (k: string) => (values[k] ?? '').trim();
  switch (actionId) {
    case 'incident.escalate':
      return { ok: true, command: { type: 'EscalateIncident', reason: v('reason') } };
    case 'incident.reject':
      return { ok: true, command: { type: 'RejectIncident', reason: v('reason') } };
    case 'incident.reopen':
      return { ok: true, command: { type: 'ReopenIncident', reason: v('reason') } };
    case 'request.deny':
      return { ok: true, command: { type: 'DenyRequest', reason: v('reason') } };
    case 'incident.hold': {
      const raw = v('until');
      let until: string | null = null;
      if (raw) {
        until = parseLocalDateTime(raw, policy.timeZone);
        if (!until) return { ok: false, field: 'until', problem: 'not_a_time' };
      }
      return { ok: true, command: { type: 'HoldIncident', reason: v('reason'), until } };
    }
    case 'incident.resolve':
      return { ok: true, command: { type: 'ResolveIncident', code: (v('code') || 'fixed') as never, note: v('note') } };
    case 'incident.reassign': {
      const person = v('person');
      let toTier = (v('tier') || null) as Incident['tier'] | null;
      let toPerson: string | null = null;
      if (person) {
        const [tier, key] = person.split(':');
        toPerson = key ?? null;
        toTier = toTier ?? ((tier as Incident['tier']) || null);
      }
      if (toTier && !TIERS.includes(toTier)) return { ok: false, field: 'tier', problem: 'unknown' };
      if (!toTier && !toPerson) return { ok: false, field: 'tier', problem: 'required' };
      return { ok: true, command: { type: 'ReassignIncident', toTier, toPerson, reason: v('reason') } };
    }
    case 'war_room.update':
      return { ok: true, command: { type: 'PostStatusUpdate', text: v('update') } };
    case 'major.downgrade':
      return { ok: true, command: { type: 'DowngradeMajor', reason: v('reason') } };
    case 'war_room.roles': {
      const commander = v('commander') || null;
      const commsLead = v('comms') || null;
      if (commander && !policy.people[commander]) return { ok: false, field: 'commander', problem: 'unknown' };
      if (commsLead && !policy.people[commsLead]) return { ok: false, field: 'comms', problem: 'unknown' };
      return { ok: true, command: { type: 'ChangeMajorRoles', commander, commsLead } };
    }
    default:
      return { ok: false, field: 'action', problem: 'unknown' };
  }
}

/** Report form values to a report input; select values outside the choices are refused by decide. */
export function reportFromForm(values: FormValues): ReportInput {
  const v = (k: string) => (values[k] ?? '').trim() || undefined;
  return {
    title: v('title') ?? '',
    description: v('description'),
    category: v('category') as ReportInput['category'],
    impact: v('impact') as ReportInput['impact'],
    urgency: v('urgency') as ReportInput['urgency'],
    system: v('system'),
    location: v('location'),
  };
}
