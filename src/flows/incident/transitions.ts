import type { CommandType } from './commands';
import type { Status } from './model';

/**
 * The one explicit lifecycle table (DOMAIN.md §4; ARCHITECTURE.md rule 2): for each command, the
 * statuses it may start from and the status it leads to. `same` keeps the status. Authorisation
 * and field rules live in decide(); this table answers only "is this move possible at all".
 * ReassignIncident to a person keeps in_progress; to another tier it puts the ticket back to new.
 */
export const TRANSITIONS: Readonly<Record<CommandType, { from: readonly Status[]; to: Status | 'same' | 'new|in_progress' }>> = {
  AcceptIncident: { from: ['new'], to: 'in_progress' },
  EscalateIncident: { from: ['new', 'in_progress'], to: 'new' },
  ReassignIncident: { from: ['new', 'in_progress'], to: 'new|in_progress' },
  RejectIncident: { from: ['new'], to: 'rejected' },
  HoldIncident: { from: ['in_progress'], to: 'pending' },
  ResumeIncident: { from: ['pending'], to: 'in_progress' },
  // From new only for a member of the current tier: the desk answering a consultation at once
  // logs it already resolved (DOMAIN.md §4); decide() records the implied accept first.
  ResolveIncident: { from: ['new', 'in_progress', 'pending'], to: 'resolved' },
  ConfirmResolution: { from: ['resolved'], to: 'closed' },
  ReopenIncident: { from: ['resolved'], to: 'in_progress' },
  RateIncident: { from: ['closed'], to: 'same' },
  ApproveRequest: { from: ['pending_approval'], to: 'new' },
  DenyRequest: { from: ['pending_approval'], to: 'rejected' },
  ChangePriority: { from: ['pending_approval', 'new', 'in_progress', 'pending'], to: 'same' },
  CloseIncident: { from: ['resolved'], to: 'closed' },
  // Major-incident commands never move the lifecycle; they say when they make sense.
  DeclareMajor: { from: ['new', 'in_progress', 'pending'], to: 'same' },
  ConfirmMajor: { from: ['new', 'in_progress', 'pending'], to: 'same' },
  DowngradeMajor: { from: ['new', 'in_progress', 'pending'], to: 'same' },
  ChangeMajorRoles: { from: ['new', 'in_progress', 'pending', 'resolved'], to: 'same' },
  // A last "all clear" update after resolution is normal; after close the review takes over.
  PostStatusUpdate: { from: ['new', 'in_progress', 'pending', 'resolved'], to: 'same' },
  AddNote: { from: ['new', 'in_progress', 'pending', 'resolved', 'closed'], to: 'same' },
  LinkToMajor: { from: ['pending_approval', 'new', 'in_progress', 'pending'], to: 'same' },
  AttachReport: { from: ['new', 'in_progress', 'pending'], to: 'same' },
  RecordWarRoom: { from: ['new', 'in_progress', 'pending', 'resolved', 'closed'], to: 'same' },
  JoinWarRoom: { from: ['new', 'in_progress', 'pending', 'resolved'], to: 'same' },
  RecordRoomMembers: { from: ['new', 'in_progress', 'pending', 'resolved', 'closed'], to: 'same' },
  // A delivery can fail whatever the incident's status, even once it is rejected or closed.
  RecordDeliveryFailure: { from: ['pending_approval', 'new', 'in_progress', 'pending', 'resolved', 'closed', 'rejected'], to: 'same' },
};

export function allowedFrom(command: CommandType, status: Status): boolean {
  return TRANSITIONS[command].from.includes(status);
}
