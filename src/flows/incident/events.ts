import type { RoleName } from '../policy/policy';
import type { Platform, PersonRef, Priority, ResolutionCode, SlaClock, Status, Tier, Incident } from './model';

/** Facts on the timeline: past-tense names. `data` carries what changed. */
export type EventBody =
  | { type: 'IncidentReported'; incident: Incident }
  | { type: 'IncidentAccepted'; assignee: PersonRef; owner: PersonRef | null; firstResponse: boolean }
  /** `matrixAfterMs` is set when the escalation matrix moved it (functional, automatic). */
  | { type: 'IncidentEscalated'; fromTier: Tier; toTier: Tier; reason: string; matrixAfterMs?: number }
  | { type: 'IncidentReassigned'; fromTier: Tier; toTier: Tier; assignee: PersonRef | null; reason: string }
  | { type: 'IncidentRejected'; reason: string }
  | { type: 'IncidentHeld'; reason: string; until: string | null }
  | { type: 'IncidentResumed' }
  | { type: 'IncidentResolved'; code: ResolutionCode; note: string; tier: Tier }
  | { type: 'ResolutionConfirmed' }
  | { type: 'IncidentReopened'; reason: string }
  | { type: 'IncidentRated'; score: number; feedback: string | null }
  | { type: 'RequestApproved'; note: string | null }
  | { type: 'RequestDenied'; reason: string }
  | { type: 'PriorityChanged'; from: Priority; to: Priority; reason: string }
  | { type: 'IncidentClosed'; automatic: boolean }
  /** A clock reached its warning share or its target. `withWarning`: the warning was due too and is folded in. */
  | { type: 'SlaThresholdReached'; clock: SlaClock; threshold: 'warn' | 'breach'; dueAt: string; targetMs: number; withWarning: boolean }
  /**
   * A step of the escalation matrix came due (DOMAIN.md §5). `escalated`: the ticket was below the
   * step's tier and was moved (an IncidentEscalated follows); `notified`: the role's people told
   * and added as watchers.
   */
  | {
      type: 'EscalationStepReached';
      step: number;
      afterMs: number;
      tier: Tier | null;
      role: Exclude<RoleName, 'approver'> | null;
      escalated: boolean;
      notified: string[];
    };

export type EventType = EventBody['type'];

/** Who did it. `system` is the bot itself (timers, automatic steps). */
export type Actor = { kind: 'person'; person: PersonRef } | { kind: 'system'; reason: string };

/** A timeline entry as stored: append-only, ordered by `seq` within the incident. */
export interface TimelineEntry {
  incidentId: string;
  seq: number;
  at: string;
  actor: Actor;
  platform: Platform | 'system';
  /** True for what the bot did by itself (automatic escalation, auto-close, wait-until resume). */
  automatic: boolean;
  event: EventBody;
  /** Status after this event, for reports without replaying. */
  status: Status;
}
