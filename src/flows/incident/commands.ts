import type { Category, Level, Priority, ResolutionCode, Source, Tier } from './model';

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
  | { type: 'CloseIncident' };

export type CommandType = Command['type'];
