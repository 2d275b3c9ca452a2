/**
 * Who belongs in a war room and what the room says about itself (DOMAIN.md §6). Pure: the outbox
 * asks at delivery time, so a room always gets the people of the latest state.
 */
import type { Incident, Platform } from '../incident/model';
import { t } from '../messages/catalog';
import { truncate } from '../messages/format';
import type { Locale, Policy } from '../policy/policy';
import { accountOf, onDutyOf } from '../policy/policy';

export interface RoomMember {
  /** Policy person key, or the guest's id. */
  key: string;
  name: string;
  /** The platform user id to invite. */
  user: string;
}

/**
 * The room's people on `platform`: incident and project managers, on-duty L2 and L3, the owner,
 * assignee and reporter, commander and communications lead. People without an account on the
 * platform are left out (they follow by direct message where they are).
 */
export function roomMembers(incident: Incident, policy: Policy, platform: Platform, now: number): RoomMember[] {
  const m = incident.major;
  const keys = [
    ...policy.roles.incident_manager,
    ...policy.roles.project_manager,
    ...onDutyOf(policy, 'l2', now),
    ...onDutyOf(policy, 'l3', now),
    incident.owner?.id,
    incident.assignee?.id,
    incident.reporter.id,
    m?.commander?.id,
    m?.commsLead?.id,
  ].filter((k): k is string => !!k);
  const out = new Map<string, RoomMember>();
  for (const key of keys) {
    const person = policy.people[key];
    let user = accountOf(policy, key, platform);
    let name = person?.name ?? key;
    // A guest reporter is reachable on the platform they reported from.
    if (!user && key === incident.reporter.id && incident.reporter.platform === platform) {
      user = incident.reporter.platformUserId;
      name = incident.reporter.name;
    }
    if (user && !out.has(user)) out.set(user, { key, name, user });
  }
  return [...out.values()];
}

/** The room's topic (one line, Slack allows 250 characters) and purpose. */
export function roomTexts(incident: Incident, locale: Locale): { topic: string; purpose: string } {
  const m = incident.major;
  const params = {
    number: incident.number,
    title: incident.title,
    priority: incident.priority,
    commander: m?.commander?.name ?? t(locale, 'card.nobody'),
  };
  return { topic: truncate(t(locale, 'room.topic', params), 250), purpose: truncate(t(locale, 'room.purpose', params), 250) };
}
