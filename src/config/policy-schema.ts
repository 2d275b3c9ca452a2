import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { CATEGORIES, LEVELS, PLATFORMS, PRIORITIES, TIERS, type Priority, type Tier } from '../flows/incident/model';
import { parseDuration } from '../flows/policy/duration';
import type { MatrixStep, Policy, PolicyPerson } from '../flows/policy/policy';
import { LOCALES } from '../flows/policy/policy';

const duration = z.string().refine((s) => parseDuration(s) !== null, {
  message: 'expected a duration such as 30s, 15m, 4h or 2d',
});
const locale = z.enum(LOCALES as ['zh-CN', 'en']);
const accounts = z.partialRecord(z.enum(PLATFORMS), z.string().min(1)).default({});

const personSchema = z
  .object({
    name: z.string().min(1),
    locale: locale.optional(),
    email: z.string().email().optional(),
    /** For platforms that look people up by phone (Feishu, DingTalk), e.g. +8613800000000. */
    mobile: z.string().regex(/^\+?[0-9 -]{6,20}$/, 'a phone number such as +8613800000000').optional(),
    slack: z.string().min(1).optional(),
    feishu: z.string().min(1).optional(),
    dingtalk: z.string().min(1).optional(),
    console: z.string().min(1).optional(),
  })
  .strict();

const tierSchema = z
  .object({
    name: z.string().optional(),
    members: z.array(z.string()).default([]),
    queue: accounts,
    /** People on duty now (they join every war room), or a rotation of one person per shift. */
    on_duty: z.array(z.string()).default([]),
    rotation: z
      .object({
        people: z.array(z.string()).min(1),
        every: z.string().refine((s) => parseDuration(s) !== null, { message: 'expected a duration such as 1d or 7d' }),
        starting: z.string().refine((d) => !Number.isNaN(Date.parse(d)), { message: 'expected a date such as 2026-12-07 or an ISO instant' }),
      })
      .strict()
      .optional(),
  })
  .strict();

const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, { message: 'unknown IANA time zone' });
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected a time of day such as 09:00 or 18:30');
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date such as 2026-10-01')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), {
    message: 'not a calendar date',
  });
/** Working hours for the priorities in business_hours_for (DOMAIN.md §5, seed 002). */
const businessHoursSchema = z
  .object({
    time_zone: timeZone.optional(),
    days: z.array(z.enum(WEEKDAYS)).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    start: clockTime.default('09:00'),
    end: clockTime.default('18:00'),
    holidays: z.array(isoDate).default([]),
    /** Make-up working days on a weekend (China's 调休). */
    workdays: z.array(isoDate).default([]),
  })
  .strict()
  .refine((b) => b.start < b.end, { message: 'start must be before end', path: ['end'] });

const slaTargetSchema = z.object({ response: duration, resolution: duration }).strict();

const matrixStepSchema = z
  .object({
    after: duration,
    tier: z.enum(TIERS).optional(),
    role: z.enum(['incident_manager', 'project_manager', 'management']).optional(),
  })
  .strict()
  .refine((s) => s.tier !== undefined || s.role !== undefined, { message: 'a step needs a tier or a role' });

/** DOMAIN.md §5 defaults. */
const DEFAULT_TARGETS: Record<Priority, { response: string; resolution: string }> = {
  P1: { response: '15m', resolution: '4h' },
  P2: { response: '30m', resolution: '8h' },
  P3: { response: '2h', resolution: '24h' },
  P4: { response: '8h', resolution: '72h' },
};

type StepIn = { after: string; tier?: Tier; role?: 'incident_manager' | 'project_manager' | 'management' };
/** DOMAIN.md §5, the default escalation matrix (seed 002). */
export const DEFAULT_MATRIX: Record<Priority, StepIn[]> = {
  P1: [
    { after: '0m', role: 'project_manager' },
    { after: '30m', role: 'management' },
  ],
  P2: [
    { after: '0m', tier: 'l2' },
    { after: '30m', role: 'project_manager' },
    { after: '4h', role: 'management' },
  ],
  P3: [
    { after: '0m', tier: 'l1' },
    { after: '30m', tier: 'l2' },
    { after: '4h', role: 'project_manager' },
    { after: '12h', role: 'management' },
  ],
  P4: [
    { after: '30m', tier: 'l1' },
    { after: '4h', tier: 'l2' },
    { after: '12h', role: 'project_manager' },
    { after: '2d', role: 'management' },
  ],
};

export const policyFileSchema = z
  .object({
    locale: locale.default('en'),
    timeZone: timeZone.default('UTC'),
    people: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'person keys use letters, digits, . _ -'), personSchema).default({}),
    tiers: z
      .object({ desk: tierSchema, l1: tierSchema, l2: tierSchema, l3: tierSchema })
      .strict(),
    roles: z
      .object({
        incident_manager: z.array(z.string()).default([]),
        project_manager: z.array(z.string()).default([]),
        management: z.array(z.string()).default([]),
        approver: z.array(z.string()).default([]),
      })
      .strict()
      .default({ incident_manager: [], project_manager: [], management: [], approver: [] }),
    key_users: z.array(z.string()).default([]),
    sla: z
      .object({
        warn_at: z.number().gt(0).lt(1).default(0.75),
        targets: z.partialRecord(z.enum(PRIORITIES), slaTargetSchema).default({}),
        business_hours_for: z.array(z.enum(PRIORITIES)).default([]),
        business_hours: businessHoursSchema.optional(),
      })
      .strict()
      .refine((s) => s.business_hours_for.length === 0 || s.business_hours !== undefined, {
        message: 'business_hours_for needs a business_hours calendar (days, start, end, holidays)',
        path: ['business_hours'],
      })
      .default({ warn_at: 0.75, targets: {}, business_hours_for: [] }),
    escalation_matrix: z.partialRecord(z.enum(PRIORITIES), z.array(matrixStepSchema)).default({}),
    auto_close_after: duration.default('3d'),
    approval_categories: z.array(z.enum(CATEGORIES)).default(['service_request']),
    major_incidents: z
      .object({
        update_every: duration.default('30m'),
        /** `never` keeps rooms open after close. */
        archive_after: z.union([z.literal('never'), duration]).default('7d'),
        review_due_after: duration.default('5d'),
        note_reaction: z.string().regex(/^[a-z0-9_+'-]{1,100}$/, 'a reaction name without colons, e.g. memo').default('memo'),
        room_prefix: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,19}$/, 'lowercase letters, digits, - and _ (at most 20)').default('inc'),
      })
      .strict()
      .default({ update_every: '30m', archive_after: '7d', review_due_after: '5d', note_reaction: 'memo', room_prefix: 'inc' }),
    defaults: z
      .object({
        category: z.enum(CATEGORIES).default('fault'),
        impact: z.enum(LEVELS).default('medium'),
        urgency: z.enum(LEVELS).default('medium'),
        system: z.string().default(''),
      })
      .strict()
      .default({ category: 'fault', impact: 'medium', urgency: 'medium', system: '' }),
  })
  .strict();

/**
 * Cross-references (every person named exists, no account used twice). Run on the raw document
 * even when other fields fail, so one start-up names every problem instead of one per attempt.
 */
function crossCheck(doc: unknown): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (!doc || typeof doc !== 'object') return problems;
  const d = doc as Record<string, any>;
  const people = d.people && typeof d.people === 'object' ? (d.people as Record<string, any>) : {};
  const known = new Set(Object.keys(people));
  const check = (list: unknown, path: (string | number)[]) => {
    if (!Array.isArray(list)) return;
    list.forEach((key, i) => {
      if (typeof key === 'string' && !known.has(key)) problems.push({ path: [...path, i], message: `unknown person "${key}" (not under people:)` });
    });
  };
  for (const t of TIERS) {
    check(d.tiers?.[t]?.members, ['tiers', t, 'members']);
    check(d.tiers?.[t]?.on_duty, ['tiers', t, 'on_duty']);
    check(d.tiers?.[t]?.rotation?.people, ['tiers', t, 'rotation', 'people']);
  }
  if (d.roles && typeof d.roles === 'object') for (const r of Object.keys(d.roles)) check(d.roles[r], ['roles', r]);
  check(d.key_users, ['key_users']);
  const seen = new Map<string, string>();
  for (const [key, p] of Object.entries(people)) {
    for (const platform of PLATFORMS) {
      const id = p?.[platform];
      if (typeof id !== 'string' || !id) continue;
      const other = seen.get(`${platform}:${id}`);
      if (other) problems.push({ path: ['people', key, platform], message: `account already used by "${other}"` });
      seen.set(`${platform}:${id}`, key);
    }
  }
  return problems;
}

export class PolicyError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = 'PolicyError';
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/** Validates a parsed policy document; throws PolicyError naming each bad field. */
export function buildPolicy(doc: unknown, source = 'policy'): Policy {
  const parsed = policyFileSchema.safeParse(doc ?? {});
  const issues = [...(parsed.success ? [] : parsed.error.issues), ...crossCheck(doc)];
  if (!parsed.success || issues.length) {
    const problems = issues.map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`);
    throw new PolicyError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`, problems);
  }
  const f = parsed.data;
  const ms = (d: string) => parseDuration(d)!;
  // No prototype: a person key typed into a form ("constructor", "__proto__") must not find
  // Object's own members.
  const people: Record<string, PolicyPerson> = Object.create(null) as Record<string, PolicyPerson>;
  for (const [key, p] of Object.entries(f.people)) {
    const acc: PolicyPerson['accounts'] = {};
    for (const platform of PLATFORMS) if (p[platform]) acc[platform] = p[platform];
    people[key] = { key, name: p.name, locale: p.locale ?? null, email: p.email ?? null, mobile: p.mobile?.replace(/[ -]/g, '') ?? null, accounts: acc };
  }
  const targets = {} as Policy['sla']['targets'];
  const matrix = {} as Record<Priority, MatrixStep[]>;
  for (const pr of PRIORITIES) {
    const t = f.sla.targets[pr] ?? DEFAULT_TARGETS[pr];
    targets[pr] = { responseMs: ms(t.response), resolutionMs: ms(t.resolution) };
    const steps = f.escalation_matrix[pr] ?? DEFAULT_MATRIX[pr];
    matrix[pr] = steps
      .map((s) => ({ afterMs: ms(s.after), tier: s.tier ?? null, role: s.role ?? null }))
      .sort((a, b) => a.afterMs - b.afterMs);
  }
  const tiers = {} as Policy['tiers'];
  for (const t of TIERS) {
    const r = f.tiers[t].rotation;
    tiers[t] = {
      name: f.tiers[t].name ?? null,
      members: f.tiers[t].members,
      queues: f.tiers[t].queue,
      onDuty: f.tiers[t].on_duty,
      rotation: r ? { people: r.people, everyMs: ms(r.every), startsAt: Date.parse(r.starting) } : null,
    };
  }
  return {
    locale: f.locale,
    timeZone: f.timeZone,
    people,
    tiers,
    roles: f.roles,
    keyUsers: f.key_users,
    sla: {
      warnAt: f.sla.warn_at,
      targets,
      businessHoursFor: f.sla.business_hours_for,
      calendar: f.sla.business_hours
        ? {
            timeZone: f.sla.business_hours.time_zone ?? f.timeZone,
            days: f.sla.business_hours.days.map((d) => WEEKDAYS.indexOf(d) + 1),
            start: f.sla.business_hours.start,
            end: f.sla.business_hours.end,
            holidays: f.sla.business_hours.holidays,
            workdays: f.sla.business_hours.workdays,
          }
        : null,
    },
    escalationMatrix: matrix,
    autoCloseAfterMs: ms(f.auto_close_after),
    defaults: f.defaults,
    approvalCategories: f.approval_categories,
    major: {
      updateEveryMs: ms(f.major_incidents.update_every),
      archiveAfterMs: f.major_incidents.archive_after === 'never' ? null : ms(f.major_incidents.archive_after),
      reviewAfterMs: ms(f.major_incidents.review_due_after),
      noteReaction: f.major_incidents.note_reaction,
      roomPrefix: f.major_incidents.room_prefix,
    },
  };
}

/** Reads and validates a YAML policy file. */
export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy file ${path}: ${(err as Error).message}`, []);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message : String(err);
    throw new PolicyError(`${path} is not valid YAML: ${detail}`, [detail]);
  }
  return buildPolicy(doc, path);
}
