/**
 * Major incidents as pure rules (DOMAIN.md §6): who may declare, confirm, downgrade and speak for
 * one; what each fact does to the record; and the two timers a major incident owes (the update
 * cadence, the room's archive after close). No I/O: the war room itself is an outbox effect.
 */
import type { Command } from '../incident/commands';
import type { Actor, EventBody, MajorEventBody } from '../incident/events';
import type { Incident, MajorIncident, PersonRef } from '../incident/model';
import { updateDueAt } from '../incident/model';
import { reject, type Rejection } from '../incident/rejection';
import type { Policy } from '../policy/policy';
import { hasRole, tiersOf } from '../policy/policy';

export type MajorCommand = Extract<
  Command,
  {
    type:
      | 'DeclareMajor'
      | 'ConfirmMajor'
      | 'DowngradeMajor'
      | 'ChangeMajorRoles'
      | 'PostStatusUpdate'
      | 'AddNote'
      | 'LinkToMajor'
      | 'AttachReport'
      | 'RecordWarRoom'
      | 'JoinWarRoom'
      | 'RecordRoomMembers';
  }
>;

export const MAJOR_COMMANDS: readonly MajorCommand['type'][] = [
  'DeclareMajor',
  'ConfirmMajor',
  'DowngradeMajor',
  'ChangeMajorRoles',
  'PostStatusUpdate',
  'AddNote',
  'LinkToMajor',
  'AttachReport',
  'RecordWarRoom',
  'JoinWarRoom',
  'RecordRoomMembers',
];

export function isMajorCommand(cmd: Command): cmd is MajorCommand {
  return (MAJOR_COMMANDS as readonly string[]).includes(cmd.type);
}

/** Longest status update or note kept (one chat message). */
export const MAJOR_LIMITS = { update: 3000, note: 3000 } as const;

/** A configured person as the incident remembers them, on the platform the incident came from. */
export function personFromPolicy(policy: Policy, key: string, platform: PersonRef['platform']): PersonRef | null {
  const p = policy.people[key];
  if (!p) return null;
  return { id: p.key, name: p.name, platform, platformUserId: p.accounts[platform] ?? p.key };
}

/** Whether a major incident's cadence, room and report are live (declared or confirmed). */
export function isLiveMajor(incident: Incident): boolean {
  return !!incident.major && incident.major.state !== 'downgraded';
}

/**
 * May this person declare a major incident? The service desk, an incident manager, or the
 * incident's assignee (issue 4); for a quick `major <text>` (no incident yet), any tier member too.
 */
export function mayDeclare(policy: Policy, personId: string, incident: Incident | null): boolean {
  if (hasRole(policy, personId, 'incident_manager') || policy.tiers.desk.members.includes(personId)) return true;
  if (incident) return incident.assignee?.id === personId;
  return tiersOf(policy, personId).length > 0 || hasRole(policy, personId, 'project_manager');
}

const managerOrPm = (policy: Policy, id: string) => hasRole(policy, id, 'incident_manager') || hasRole(policy, id, 'project_manager');

/** The people who run a major incident: they may post updates (roles: managers and the commander). */
function onMajorTeam(policy: Policy, incident: Incident, id: string): boolean {
  const m = incident.major;
  return (
    managerOrPm(policy, id) ||
    m?.commander?.id === id ||
    m?.commsLead?.id === id ||
    incident.assignee?.id === id ||
    incident.owner?.id === id ||
    policy.tiers.desk.members.includes(id)
  );
}

/** A fresh (or renewed, after a downgrade) major-incident record, with the policy's settings snapshotted. */
export function newMajor(incident: Incident, policy: Policy, at: string, by: PersonRef | null, quick: boolean): MajorIncident {
  const prior = incident.major;
  const commanderKey = policy.roles.incident_manager[0];
  return {
    state: 'declared',
    declaredAt: at,
    declaredBy: by,
    quick,
    commander: prior?.commander ?? (commanderKey ? personFromPolicy(policy, commanderKey, incident.reporter.platform) : null),
    commsLead: prior?.commsLead ?? null,
    cadenceMs: policy.major.updateEveryMs,
    lastUpdateAt: null,
    lastUpdate: prior?.lastUpdate ?? null,
    updates: prior?.updates ?? 0,
    reminders: 0,
    rooms: prior?.rooms ?? [],
    linked: prior?.linked ?? [],
    noted: prior?.noted ?? [],
    review: prior?.review ?? null,
    reviewAfterMs: policy.major.reviewAfterMs,
    archiveAfterMs: policy.major.archiveAfterMs,
    archived: prior?.archived ?? false,
  };
}

function clean(text: string | null | undefined, field: string, max: number): Rejection | string {
  const v = (text ?? '').trim();
  if (!v) return reject({ reason: 'invalid_input', field, problem: 'required' });
  if (Array.from(v).length > max) return reject({ reason: 'invalid_input', field, problem: `too_long:${max}` });
  return v;
}

/**
 * Decides a major-incident command (the lifecycle table has already allowed the status). Pure.
 * Refusals are values, named so the person knows whom to ask.
 */
export function decideMajor(state: Incident, cmd: MajorCommand, ctx: { now: string; policy: Policy; actor: Actor }): { ok: true; events: EventBody[] } | Rejection {
  const { policy, actor, now } = ctx;
  const system = actor.kind === 'system';
  const me = actor.kind === 'person' ? actor.person : null;
  const id = me?.id ?? '';
  const m = state.major;
  const ok = (...events: MajorEventBody[]) => ({ ok: true as const, events });

  switch (cmd.type) {
    case 'DeclareMajor': {
      if (!system && !mayDeclare(policy, id, state)) return reject({ reason: 'forbidden', need: 'desk_manager_or_assignee' });
      if (m && m.state !== 'downgraded') return reject({ reason: 'already_major' });
      return ok({ type: 'MajorIncidentDeclared', major: newMajor(state, policy, now, me, cmd.quick ?? false), automatic: system });
    }
    case 'ConfirmMajor': {
      if (!system && !managerOrPm(policy, id)) return reject({ reason: 'forbidden', need: 'manager_or_pm' });
      if (!m || m.state === 'downgraded') return reject({ reason: 'not_major' });
      if (m.state === 'confirmed') return reject({ reason: 'nothing_changed' });
      return ok({ type: 'MajorIncidentConfirmed' });
    }
    case 'DowngradeMajor': {
      if (!system && !managerOrPm(policy, id)) return reject({ reason: 'forbidden', need: 'manager_or_pm' });
      if (!m || m.state === 'downgraded') return reject({ reason: 'not_major' });
      const reason = clean(cmd.reason, 'reason', 2000);
      if (typeof reason !== 'string') return reason;
      return ok({ type: 'MajorIncidentDowngraded', reason });
    }
    case 'ChangeMajorRoles': {
      if (!m) return reject({ reason: 'not_major' });
      if (!system && !managerOrPm(policy, id) && m.commander?.id !== id) return reject({ reason: 'forbidden', need: 'manager_or_pm' });
      const pick = (key: string | null, current: PersonRef | null): PersonRef | null | Rejection => {
        if (!key) return current;
        const p = personFromPolicy(policy, key, state.reporter.platform);
        return p ?? reject({ reason: 'unknown_person', who: key });
      };
      const commander = pick(cmd.commander, m.commander);
      if (commander && 'ok' in commander) return commander;
      const commsLead = pick(cmd.commsLead, m.commsLead);
      if (commsLead && 'ok' in commsLead) return commsLead;
      if (commander?.id === m.commander?.id && commsLead?.id === m.commsLead?.id) return reject({ reason: 'nothing_changed' });
      return ok({ type: 'MajorRolesChanged', commander: commander as PersonRef | null, commsLead: commsLead as PersonRef | null });
    }
    case 'PostStatusUpdate': {
      if (!m) return reject({ reason: 'not_major' });
      if (!system && !onMajorTeam(policy, state, id)) return reject({ reason: 'forbidden', need: 'major_team' });
      const text = clean(cmd.text, 'update', MAJOR_LIMITS.update);
      if (typeof text !== 'string') return text;
      return ok({ type: 'StatusUpdatePosted', text });
    }
    case 'AddNote': {
      // Anyone the bot knows may add to the timeline, and the reporter; guests in a room may not.
      if (!system && !policy.people[id] && state.reporter.id !== id) return reject({ reason: 'forbidden', need: 'major_team' });
      const text = clean(cmd.text, 'note', MAJOR_LIMITS.note);
      if (typeof text !== 'string') return text;
      const ref = cmd.messageRef ?? null;
      if (ref && m?.noted.includes(ref)) return reject({ reason: 'nothing_changed' });
      return ok({ type: 'NoteAdded', text, author: cmd.author ?? me, source: cmd.source, messageRef: ref });
    }
    case 'LinkToMajor': {
      if (!system && !hasRole(policy, id, 'incident_manager') && !policy.tiers.desk.members.includes(id)) {
        return reject({ reason: 'forbidden', need: 'desk_or_manager' });
      }
      if (state.linkedTo) return state.linkedTo.id === cmd.majorId ? reject({ reason: 'nothing_changed' }) : reject({ reason: 'already_linked', to: state.linkedTo.number });
      if (state.id === cmd.majorId || isLiveMajor(state)) return reject({ reason: 'already_major' });
      return ok({ type: 'LinkedToMajor', majorId: cmd.majorId, number: cmd.number, title: cmd.title, automatic: cmd.automatic ?? false });
    }
    case 'AttachReport': {
      if (!system && !hasRole(policy, id, 'incident_manager') && !policy.tiers.desk.members.includes(id)) {
        return reject({ reason: 'forbidden', need: 'desk_or_manager' });
      }
      if (!m || m.state === 'downgraded') return reject({ reason: 'not_major' });
      if (m.linked.some((l) => l.id === cmd.incidentId)) return reject({ reason: 'nothing_changed' });
      return ok({ type: 'ReportLinked', incidentId: cmd.incidentId, number: cmd.number, reporter: cmd.reporter, automatic: cmd.automatic ?? false });
    }
    case 'RecordWarRoom': {
      if (!system) return reject({ reason: 'forbidden', need: 'manager_or_pm' });
      if (!m) return reject({ reason: 'not_major' });
      // Recorded once per platform: a retried delivery finds it done.
      if (m.rooms.some((r) => r.platform === cmd.platform)) return reject({ reason: 'nothing_changed' });
      return ok({ type: 'WarRoomOpened', platform: cmd.platform, channel: cmd.channel, name: cmd.name, invited: cmd.invited, uninvited: cmd.uninvited });
    }
    case 'JoinWarRoom': {
      if (!m || !m.rooms.some((r) => r.platform === cmd.platform)) return reject({ reason: 'no_room' });
      // Anyone the bot knows may join; a guest only as the incident's reporter (already invited).
      if (!system && !policy.people[id]) return reject({ reason: 'forbidden', need: 'major_team' });
      return ok({ type: 'WarRoomJoinRequested', platform: cmd.platform, user: cmd.user });
    }
    case 'RecordRoomMembers': {
      if (!system) return reject({ reason: 'forbidden', need: 'manager_or_pm' });
      if (!m) return reject({ reason: 'not_major' });
      if (cmd.names.length === 0 && cmd.uninvited.length === 0) return reject({ reason: 'nothing_changed' });
      return ok({ type: 'WarRoomMembersAdded', platform: cmd.platform, names: cmd.names, uninvited: cmd.uninvited });
    }
  }
}

/** Applies a major-incident fact to the record (called from evolve). */
export function applyMajor(state: Incident, event: MajorEventBody, at: string): Incident {
  const m = state.major;
  const withMajor = (patch: Partial<MajorIncident>): Incident => (m ? { ...state, major: { ...m, ...patch } } : state);
  switch (event.type) {
    case 'MajorIncidentDeclared':
      return { ...state, major: event.major };
    case 'MajorIncidentConfirmed':
      return withMajor({ state: 'confirmed' });
    case 'MajorIncidentDowngraded':
      return withMajor({ state: 'downgraded' });
    case 'WarRoomOpened':
      return withMajor({ rooms: [...(m?.rooms ?? []), { platform: event.platform, channel: event.channel, name: event.name, openedAt: at }] });
    case 'WarRoomMembersAdded':
    case 'WarRoomJoinRequested':
      return state;
    case 'WarRoomArchived':
      return withMajor({ archived: true });
    case 'MajorRolesChanged':
      return withMajor({ commander: event.commander, commsLead: event.commsLead });
    case 'StatusUpdatePosted':
      return withMajor({ lastUpdateAt: at, lastUpdate: event.text, updates: (m?.updates ?? 0) + 1, reminders: 0 });
    case 'UpdateReminderSent':
      return withMajor({ reminders: event.reminder });
    case 'NoteAdded':
      return event.messageRef && m ? withMajor({ noted: [...m.noted, event.messageRef].slice(-500) }) : state;
    case 'ReportLinked':
      return withMajor({ linked: [...(m?.linked ?? []), { id: event.incidentId, number: event.number, reporter: event.reporter }] });
    case 'LinkedToMajor':
      return { ...state, linkedTo: { id: event.majorId, number: event.number, title: event.title } };
    case 'ReviewScheduled':
      return withMajor({ review: { owner: event.owner, dueAt: event.dueAt } });
  }
}

/** The post-incident review a major incident's resolution records (owner: the commander). */
export function reviewOnResolve(state: Incident, policy: Policy, now: string): MajorEventBody[] {
  const m = state.major;
  if (!m || m.state === 'downgraded' || m.review) return [];
  const ownerKey = m.commander?.id ?? policy.roles.incident_manager[0] ?? null;
  const owner = m.commander ?? (ownerKey ? personFromPolicy(policy, ownerKey, state.reporter.platform) : null);
  return [{ type: 'ReviewScheduled', owner, dueAt: new Date(Date.parse(now) + m.reviewAfterMs).toISOString() }];
}

/** Major-incident timers owed: the next update reminder and the room's archive after close. */
export function majorTimerItems(incident: Incident): ({ kind: 'cadence'; key: 'cadence'; at: number } | { kind: 'archive'; key: 'archive'; at: number })[] {
  const m = incident.major;
  if (!m) return [];
  const out: ({ kind: 'cadence'; key: 'cadence'; at: number } | { kind: 'archive'; key: 'archive'; at: number })[] = [];
  const due = updateDueAt(incident);
  if (due) out.push({ kind: 'cadence', key: 'cadence', at: Date.parse(due) + m.reminders * m.cadenceMs });
  const closed = incident.closedAt && (incident.status === 'closed' || incident.status === 'rejected');
  if (closed && m.rooms.length && !m.archived && m.archiveAfterMs !== null) {
    out.push({ kind: 'archive', key: 'archive', at: Date.parse(incident.closedAt!) + m.archiveAfterMs });
  }
  return out;
}

/**
 * The major-incident events due at `now`. Reminders missed while the bot was down collapse into
 * one, numbered so the next falls a whole cadence after `now`, never in the past.
 */
export function dueMajorEvents(incident: Incident, now: number): MajorEventBody[] {
  const m = incident.major;
  if (!m) return [];
  const out: MajorEventBody[] = [];
  for (const item of majorTimerItems(incident)) {
    if (item.at > now) continue;
    if (item.kind === 'cadence') {
      const first = Date.parse(updateDueAt(incident)!);
      const reminder = Math.floor((now - first) / m.cadenceMs) + 1;
      out.push({ type: 'UpdateReminderSent', dueAt: new Date(first).toISOString(), reminder: Math.max(m.reminders + 1, reminder) });
    } else {
      out.push({ type: 'WarRoomArchived' });
    }
  }
  return out;
}
