import type { PersonRef, Status } from './model';

/** Who may do it, named in a refusal so the person knows whom to ask. */
export type Requirement =
  | 'tier_member'
  | 'assignee_or_manager'
  | 'reporter_or_owner'
  | 'approver'
  | 'desk_or_manager'
  | 'tier_member_or_manager'
  | 'desk_manager_or_assignee'
  | 'manager_or_pm'
  | 'major_team';

/** A refused command: a value, never an exception (ARCHITECTURE.md rule 2). Nothing was changed. */
export type Rejection =
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'forbidden'; need: Requirement }
  | { ok: false; reason: 'already_accepted'; by: PersonRef }
  | { ok: false; reason: 'invalid_state'; status: Status }
  | { ok: false; reason: 'stale_card' }
  | { ok: false; reason: 'no_higher_tier' }
  | { ok: false; reason: 'already_rated' }
  | { ok: false; reason: 'same_tier' }
  | { ok: false; reason: 'unknown_person'; who: string }
  | { ok: false; reason: 'not_in_tier'; who: string }
  | { ok: false; reason: 'invalid_input'; field: string; problem: string }
  | { ok: false; reason: 'busy' }
  | { ok: false; reason: 'already_major' }
  | { ok: false; reason: 'not_major' }
  | { ok: false; reason: 'already_linked'; to: string }
  | { ok: false; reason: 'nothing_changed' }
  | { ok: false; reason: 'no_room' };

export type RejectionReason = Rejection['reason'];

type WithoutOk<T> = T extends unknown ? Omit<T, 'ok'> : never;

export function reject(r: WithoutOk<Rejection>): Rejection {
  return { ok: false, ...r } as Rejection;
}
