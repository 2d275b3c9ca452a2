import type { RoleName } from '../policy/policy';
import type { Platform, PersonRef, Priority, ResolutionCode, SlaClock, Status, Tier, Incident, MajorIncident } from './model';

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
    }
  /** A notice or card about the incident could not be delivered even after its retries (parked in the outbox). */
  | { type: 'DeliveryFailed'; platform: Platform; what: string; purpose: string | null; attempts: number; error: string }
  | MajorEventBody;

/** The major-incident facts (DOMAIN.md §6). */
export type MajorEventBody =
  /** `major` is the fresh major-incident record; `automatic`: every P1 is major. */
  | { type: 'MajorIncidentDeclared'; major: MajorIncident; automatic: boolean }
  | { type: 'MajorIncidentConfirmed' }
  | { type: 'MajorIncidentDowngraded'; reason: string }
  /** The war room is ready on a platform; `uninvited` could not be added (named, with the platform's reason). */
  | { type: 'WarRoomOpened'; platform: Platform; channel: string; name: string; invited: number; uninvited: { name: string; error: string }[] }
  | { type: 'WarRoomJoinRequested'; platform: Platform; user: string }
  | { type: 'WarRoomMembersAdded'; platform: Platform; names: string[]; uninvited: { name: string; error: string }[] }
  | { type: 'WarRoomArchived' }
  | { type: 'MajorRolesChanged'; commander: PersonRef | null; commsLead: PersonRef | null }
  | { type: 'StatusUpdatePosted'; text: string }
  /** The cadence came due with no update: the commander is reminded in the room. */
  | { type: 'UpdateReminderSent'; dueAt: string; reminder: number }
  /** A note for the timeline, typed (`/incident note`) or a room message marked with the reaction. */
  | { type: 'NoteAdded'; text: string; author: PersonRef | null; source: 'command' | 'reaction'; messageRef: string | null }
  /** On the major incident: a report was linked to it as the same outage. */
  | { type: 'ReportLinked'; incidentId: string; number: string; reporter: PersonRef; automatic: boolean }
  /** On the linked report: it is the known outage `number`. */
  | { type: 'LinkedToMajor'; majorId: string; number: string; title: string; automatic: boolean }
  | { type: 'ReviewScheduled'; owner: PersonRef | null; dueAt: string };

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
