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
  /** Set once the incident is (or was) a major incident (DOMAIN.md §6); null for an ordinary one. */
  major: MajorIncident | null;
  /** A report linked to an open major incident as the same outage (DOMAIN.md §6, 003). */
  linkedTo: { id: string; number: string; title: string } | null;
}

export const MAJOR_STATES = ['declared', 'confirmed', 'downgraded'] as const;
/** declared: waiting for the incident / project manager; downgraded: the room stays, the cadence ends. */
export type MajorState = (typeof MAJOR_STATES)[number];

/** A war room as recorded once it is ready on a platform (one per incident and platform). */
export interface WarRoomRef {
  platform: Platform;
  /** Platform conversation id (Slack C…). */
  channel: string;
  name: string;
  openedAt: string;
}

/**
 * The major-incident side of an incident (DOMAIN.md §6). Its settings are snapshotted at the
 * declaration, like the SLA policy, so editing the policy file moves no running cadence.
 */
export interface MajorIncident {
  state: MajorState;
  declaredAt: string;
  /** Who declared it; null when the bot did (every P1). */
  declaredBy: PersonRef | null;
  /** Filed and declared in one step with minimal fields (先处理后补单). */
  quick: boolean;
  /** Incident commander (defaults to the first incident manager) and communications lead. */
  commander: PersonRef | null;
  commsLead: PersonRef | null;
  /** Status update cadence; the commander is reminded when an update is due. */
  cadenceMs: number;
  lastUpdateAt: string | null;
  lastUpdate: string | null;
  updates: number;
  /** Reminders sent since the last update (each one cadence later than the one before). */
  reminders: number;
  rooms: WarRoomRef[];
  /** Reports linked to this one as the same outage: their reporters hear every update. */
  linked: { id: string; number: string; reporter: PersonRef }[];
  /** Room messages already put on the timeline by reaction (`platform:channel:ts`), so twice is once. */
  noted: string[];
  /** The post-incident review, recorded at resolution. */
  review: { owner: PersonRef | null; dueAt: string } | null;
  reviewAfterMs: number;
  /** How long after close the rooms are archived; null: never. */
  archiveAfterMs: number | null;
  archived: boolean;
}

/** When the next status update of a major incident is due (ISO), or null when no cadence runs. */
export function updateDueAt(incident: Incident): string | null {
  const m = incident.major;
  if (!m || m.state === 'downgraded' || !OPEN_STATUSES.includes(incident.status)) return null;
  return new Date(Date.parse(m.lastUpdateAt ?? m.declaredAt) + m.cadenceMs).toISOString();
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
