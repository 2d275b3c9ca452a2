/**
 * The incident record and its vocabulary (DOMAIN.md §1–§4). Pure data: no I/O, no platform.
 */
import type { SlaPolicy } from '../policy/policy';

export const PRIORITIES = ['P1', 'P2', 'P3', 'P4'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const LEVELS = ['high', 'medium', 'low'] as const;
export type Level = (typeof LEVELS)[number];

/** Support tiers in escalation order (DOMAIN.md §3). */
export const TIERS = ['desk', 'l1', 'l2', 'l3'] as const;
export type Tier = (typeof TIERS)[number];

export const CATEGORIES = ['consultation', 'service_request', 'fault', 'complaint', 'security'] as const;
export type Category = (typeof CATEGORIES)[number];

export const SOURCES = ['chat', 'monitoring', 'engineer', 'phone'] as const;
export type Source = (typeof SOURCES)[number];

export const STATUSES = [
  'pending_approval',
  'new',
  'in_progress',
  'pending',
  'resolved',
  'closed',
  'rejected',
] as const;
export type Status = (typeof STATUSES)[number];

/** Statuses from which nothing more happens (closed is final; rejected is final). */
export const FINAL_STATUSES: readonly Status[] = ['closed', 'rejected'];
/** Statuses that count as "open" for queues and lists. */
export const OPEN_STATUSES: readonly Status[] = ['pending_approval', 'new', 'in_progress', 'pending'];

export const PLATFORMS = ['slack', 'feishu', 'dingtalk', 'console'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Resolution codes offered in the resolve form; free text is the note. */
export const RESOLUTION_CODES = [
  'fixed',
  'workaround',
  'config_change',
  'user_guidance',
  'vendor_fix',
  'no_fault_found',
  'duplicate',
] as const;
export type ResolutionCode = (typeof RESOLUTION_CODES)[number];

/**
 * A person as the incident remembers them. `id` is the policy's person key when the person is
 * configured, otherwise `<platform>:<platform user id>` (a guest reporter).
 */
export interface PersonRef {
  id: string;
  name: string;
  platform: Platform;
  /** The platform user id the action came from (Slack U…, Feishu open_id, …). */
  platformUserId: string;
}

export interface Incident {
  id: string;
  number: string;
  /** Compare-and-set version: 1 after the report, +1 per accepted command. */
  version: number;
  /**
   * The version of the last change that altered what a person may do with the incident. A timer
   * that only records a notice (a warning, a breach, a matrix role notified) bumps `version` but
   * not this, so a card or a half-filled form from just before it is still current.
   */
  decisionVersion: number;
  title: string;
  description: string;
  category: Category;
  impact: Level;
  urgency: Level;
  priority: Priority;
  /** True once anyone changed the priority after the report (the "correctly classified" KPI). */
  priorityChanged: boolean;
  system: string;
  location: string;
  source: Source;
  reporter: PersonRef;
  /** Where the reporter filed it, so replies can go back there. */
  origin: { platform: Platform; channel: string };
  /** Desk agent, single point of contact (DOMAIN.md §1): set by the first accept at the desk. */
  owner: PersonRef | null;
  /** Engineer working it now. Never more than one. */
  assignee: PersonRef | null;
  tier: Tier;
  status: Status;
  /** Whether the record went through the approval step (service requests). */
  approval: 'none' | 'required' | 'approved' | 'denied';
  reportedAt: string;
  respondedAt: string | null;
  resolvedAt: string | null;
  closedAt: string | null;
  /** Set while pending: when the hold started and, for wait-until, when it ends. */
  pendingSince: string | null;
  waitUntil: string | null;
  holdReason: string | null;
  /** Total milliseconds spent pending so far (the SLA clock excludes it). */
  pendingMs: number;
  resolutionCode: ResolutionCode | null;
  resolutionNote: string | null;
  resolverTier: Tier | null;
  rating: number | null;
  feedback: string | null;
  reopenCount: number;
  escalationCount: number;
  rejectReason: string | null;
  /** The SLA snapshot and the bookkeeping of its clocks (DOMAIN.md §5; see policy/sla.ts). */
  sla: IncidentSla;
  /** Policy person keys notified by hierarchical escalation; they hear of later milestones. */
  watchers: string[];
  /**
   * Derived (policy/sla.ts `nextTimerAt`), recomputed on every change: when this incident next
   * needs waking up (a warning, a breach, a matrix step, wait-until, auto-close); null for none.
   */
  nextTimerAt: string | null;
}

export const SLA_CLOCKS = ['response', 'resolution'] as const;
export type SlaClock = (typeof SLA_CLOCKS)[number];

/**
 * The clock bookkeeping an incident carries. The clocks run while the incident is `new` or
 * `in_progress`; every other status pauses them. `pauses` are the closed pause intervals.
 */
export interface IncidentSla {
  policy: SlaPolicy;
  pauses: { from: string; to: string }[];
  /** Start of the pause in force now, or null while the clocks run. */
  pausedSince: string | null;
  /** What has been done once and must never be done again: `response:warn`, `tier:l2`, `role:management`, … */
  fired: string[];
}

export function nextTier(tier: Tier): Tier | null {
  const i = TIERS.indexOf(tier);
  return i >= 0 && i < TIERS.length - 1 ? TIERS[i + 1]! : null;
}

export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}
