import type { Category, Level, PersonRef, Platform, Priority, ResolutionCode, Source, Tier } from './model';

/** What a reporter supplies; anything missing takes the policy's defaults (report first, details later). */
export interface ReportInput {
  title: string;
  description?: string;
  category?: Category;
  impact?: Level;
  urgency?: Level;
  system?: string;
  location?: string;
  source?: Source;
}

/** Commands on an existing incident: imperative names (DOMAIN.md §4). */
export type Command =
  | { type: 'AcceptIncident' }
  | { type: 'EscalateIncident'; reason: string }
  | { type: 'ReassignIncident'; toTier: Tier | null; toPerson: string | null; reason: string }
  | { type: 'RejectIncident'; reason: string }
  | { type: 'HoldIncident'; reason: string; until: string | null }
  | { type: 'ResumeIncident' }
  | { type: 'ResolveIncident'; code: ResolutionCode; note: string }
  | { type: 'ConfirmResolution' }
  | { type: 'ReopenIncident'; reason: string }
  | { type: 'RateIncident'; score: number; feedback: string | null }
  | { type: 'ApproveRequest'; note: string | null }
  | { type: 'DenyRequest'; reason: string }
  | { type: 'ChangePriority'; priority: Priority; reason: string }
  | { type: 'CloseIncident' }
  // Major incidents (DOMAIN.md §6)
  | { type: 'DeclareMajor'; quick?: boolean }
  | { type: 'ConfirmMajor' }
  | { type: 'DowngradeMajor'; reason: string }
  /** Person keys from the policy; null leaves that role as it is. */
  | { type: 'ChangeMajorRoles'; commander: string | null; commsLead: string | null }
  | { type: 'PostStatusUpdate'; text: string }
  /** `author` wrote the text (a room message marked by reaction); the actor added it. */
  | { type: 'AddNote'; text: string; source: 'command' | 'reaction'; author?: PersonRef | null; messageRef?: string | null }
  /** On a report: mark it as the known outage `major`. */
  | { type: 'LinkToMajor'; majorId: string; number: string; title: string; automatic?: boolean }
  /** On the major incident: take in a linked report. */
  | { type: 'AttachReport'; incidentId: string; number: string; reporter: PersonRef; automatic?: boolean }
  /** The bot, after the platform made the room (recorded once per platform). */
  | { type: 'RecordWarRoom'; platform: Platform; channel: string; name: string; invited: number; uninvited: { name: string; error: string }[] }
  /** A person asks to be added to the war room on a platform (the Join war room button). */
  | { type: 'JoinWarRoom'; platform: Platform; user: string }
  | { type: 'RecordRoomMembers'; platform: Platform; names: string[]; uninvited: { name: string; error: string }[] }
  /**
   * The bot, after a message about the incident could not be delivered even after its retries
   * (the outbox parked it): `what` is the delivery's kind (card.sync, message.send, room.open, …),
   * `purpose` the card or message it was, when known.
   */
  | { type: 'RecordDeliveryFailure'; platform: Platform; what: string; purpose: string | null; attempts: number; error: string };

export type CommandType = Command['type'];
