/**
 * Neutral cards and forms: what a message says and which buttons it offers, already localised.
 * Each adapter's render.ts turns these into its platform's payload; nothing here knows a platform.
 */

export type ActionId =
  | 'incident.accept'
  | 'incident.escalate'
  | 'incident.reassign'
  | 'incident.hold'
  | 'incident.resume'
  | 'incident.resolve'
  | 'incident.confirm'
  | 'incident.reopen'
  | 'incident.reject'
  | 'incident.declare_major'
  | 'incident.rate'
  | 'request.approve'
  | 'request.deny'
  | 'war_room.update'
  | 'war_room.join'
  | 'war_room.roles'
  | 'major.confirm'
  | 'major.downgrade';

export const ACTION_IDS: readonly ActionId[] = [
  'incident.accept',
  'incident.escalate',
  'incident.reassign',
  'incident.hold',
  'incident.resume',
  'incident.resolve',
  'incident.confirm',
  'incident.reopen',
  'incident.reject',
  'incident.declare_major',
  'incident.rate',
  'request.approve',
  'request.deny',
  'war_room.update',
  'war_room.join',
  'war_room.roles',
  'major.confirm',
  'major.downgrade',
];

/** What a button carries back: the incident, the version the card showed, and an optional argument. */
export interface ButtonValue {
  incidentId: string;
  version: number;
  /** e.g. the score of a rate button. */
  arg?: string;
}

export function encodeButtonValue(v: ButtonValue): string {
  return [v.incidentId, v.version, v.arg ?? ''].join('|');
}

/** Parses a button value; null when it is not one of ours (tampered or from another app). */
export function decodeButtonValue(raw: unknown): ButtonValue | null {
  if (typeof raw !== 'string' || raw.length > 200) return null;
  const [incidentId, version, arg] = raw.split('|');
  if (!incidentId || !/^[0-9a-f-]{36}$/i.test(incidentId)) return null;
  const n = Number(version);
  if (!Number.isInteger(n) || n < 1) return null;
  return arg ? { incidentId, version: n, arg } : { incidentId, version: n };
}

export interface CardButton {
  actionId: ActionId;
  label: string;
  value: string;
  style: 'primary' | 'danger' | 'default';
}

export interface CardField {
  label: string;
  value: string;
  /** The value names a conversation on a platform (a war room): that platform links it natively. */
  channel?: { platform: import('../incident/model').Platform; id: string };
}

export interface NeutralCard {
  /** The incident's number (`INC-12`), for platforms whose buttons type a command instead. */
  number?: string;
  /** Plain-text summary for notifications and platforms without rich cards. */
  fallback: string;
  title: string;
  /** Free text under the title (the description), may be empty. */
  body: string;
  fields: CardField[];
  /** Short lines shown small: "Accepted by Li Wei 10:42". */
  context: string[];
  /** Buttons the state allows; empty on a decided card, which shows `outcome` instead. */
  buttons: CardButton[];
  outcome: string | null;
  /** Visual hint: P1 red … P4 grey, closed green. */
  accent: 'critical' | 'high' | 'medium' | 'low' | 'done';
}

export type FormFieldKind = 'text' | 'multiline' | 'select' | 'datetime' | 'person';

export interface FormField {
  id: string;
  label: string;
  kind: FormFieldKind;
  optional: boolean;
  options?: { value: string; label: string }[];
  initial?: string;
  placeholder?: string;
  maxLength?: number;
}

/** A small form asked before an action (reason, note, code) or for the full report. */
export interface NeutralForm {
  /** `report` or the action id it completes. */
  id: 'report' | ActionId;
  title: string;
  submit: string;
  fields: FormField[];
}
