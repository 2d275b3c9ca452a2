import type { Category, Level, Platform, Priority, Tier } from '../incident/model';
import type { BusinessCalendar } from './calendar';

export type Locale = 'zh-CN' | 'en';
export const LOCALES: readonly Locale[] = ['zh-CN', 'en'];

export type RoleName = 'incident_manager' | 'project_manager' | 'management' | 'approver';
export const ROLE_NAMES: readonly RoleName[] = ['incident_manager', 'project_manager', 'management', 'approver'];

/** A configured person: the key is how the policy refers to them; accounts map them per platform. */
export interface PolicyPerson {
  key: string;
  name: string;
  locale: Locale | null;
  email: string | null;
  mobile: string | null;
  /** Platform user id per platform (Slack `U…`; console uses the key when absent). */
  accounts: Partial<Record<Platform, string>>;
}

export interface TierPolicy {
  name: string | null;
  members: string[];
  /** Queue channel per platform: where this tier's incident cards appear. */
  queues: Partial<Record<Platform, string>>;
  /**
   * Who is on duty (DOMAIN.md §6: on-duty L2/L3 join a war room). A fixed list, or a rotation of
   * one person per shift from `startsAt`; with neither, nobody in particular.
   */
  onDuty: string[];
  rotation: { people: string[]; everyMs: number; startsAt: number } | null;
}

/** Major incidents (DOMAIN.md §6): the war room and the update cadence. */
export interface MajorPolicy {
  /** Status update cadence (default 30 minutes). */
  updateEveryMs: number;
  /** Rooms are archived this long after close; null keeps them. */
  archiveAfterMs: number | null;
  /** The post-incident review is due this long after resolution. */
  reviewAfterMs: number;
  /** A reaction with this name on a room message puts the message on the timeline (Slack: `memo`). */
  noteReaction: string;
  /** First word of a room name: `inc` gives `inc-42-payroll-down`. */
  roomPrefix: string;
}

export interface SlaTarget {
  responseMs: number;
  resolutionMs: number;
}

export interface MatrixStep {
  afterMs: number;
  /** The ticket must be at least at this tier by then (functional escalation). */
  tier: Tier | null;
  /** This role is notified (hierarchical escalation). */
  role: Exclude<RoleName, 'approver'> | null;
}

/** The validated policy file (FIREBELL_CONFIG). Built by src/config, consumed by the flows. */
export interface Policy {
  locale: Locale;
  timeZone: string;
  people: Record<string, PolicyPerson>;
  tiers: Record<Tier, TierPolicy>;
  roles: Record<RoleName, string[]>;
  keyUsers: string[];
  sla: {
    warnAt: number;
    targets: Record<Priority, SlaTarget>;
    businessHoursFor: Priority[];
    /** The working-hours calendar the clocks of `businessHoursFor` run on; null: around the clock. */
    calendar: BusinessCalendar | null;
  };
  escalationMatrix: Record<Priority, MatrixStep[]>;
  autoCloseAfterMs: number;
  defaults: { category: Category; impact: Level; urgency: Level; system: string };
  /** Categories that need the approval step before work (DOMAIN.md §4: service requests). */
  approvalCategories: Category[];
  major: MajorPolicy;
}

export const DEFAULT_MAJOR: MajorPolicy = {
  updateEveryMs: 30 * 60_000,
  archiveAfterMs: 7 * 86_400_000,
  reviewAfterMs: 5 * 86_400_000,
  noteReaction: 'memo',
  roomPrefix: 'inc',
};

/** Who is on duty in `tier` at `now`: the rotation's person of the shift, then the fixed list. */
export function onDutyOf(policy: Policy, tier: Tier, now: number): string[] {
  const t = policy.tiers[tier];
  const out = [...(t.onDuty ?? [])];
  const r = t.rotation;
  if (r && r.people.length && r.everyMs > 0 && now >= r.startsAt) {
    const shift = Math.floor((now - r.startsAt) / r.everyMs) % r.people.length;
    out.unshift(r.people[shift]!);
  }
  return [...new Set(out)];
}

/** Finds the configured person behind a platform account, if any. */
export function personByAccount(policy: Policy, platform: Platform, userId: string): PolicyPerson | null {
  for (const person of Object.values(policy.people)) {
    const account = person.accounts[platform] ?? (platform === 'console' ? person.key : undefined);
    if (account === userId) return person;
  }
  return null;
}

export function accountOf(policy: Policy, personKey: string, platform: Platform): string | null {
  const person = policy.people[personKey];
  if (!person) return null;
  return person.accounts[platform] ?? (platform === 'console' ? person.key : null);
}

export function tiersOf(policy: Policy, personKey: string): Tier[] {
  return (Object.keys(policy.tiers) as Tier[]).filter((t) => policy.tiers[t].members.includes(personKey));
}

export function hasRole(policy: Policy, personKey: string, role: RoleName): boolean {
  return policy.roles[role].includes(personKey);
}

export function localeOf(policy: Policy, personKey: string): Locale {
  return policy.people[personKey]?.locale ?? policy.locale;
}

/**
 * The part of the policy that drives an incident's clocks, copied onto the incident when it is
 * reported (DOMAIN.md §5): editing the policy file later does not move running clocks.
 */
export type SlaPolicy = Policy['sla'] & {
  matrix: Record<Priority, MatrixStep[]>;
  autoCloseAfterMs: number;
};

/** The snapshot of `policy` that a new incident keeps (a deep copy: plain data, no sharing). */
export function slaPolicyOf(policy: Policy): SlaPolicy {
  return structuredClone({ ...policy.sla, matrix: policy.escalationMatrix, autoCloseAfterMs: policy.autoCloseAfterMs });
}
