import type { Actor } from './incident/events';
import type { PersonRef, Platform } from './incident/model';
import type { Policy } from './policy/policy';
import { personByAccount } from './policy/policy';

/**
 * Who a platform user is for the process: the configured person when their account is in the
 * policy, otherwise a guest reporter identified as `<platform>:<user id>`.
 */
export function identify(policy: Policy, platform: Platform, userId: string, displayName?: string): PersonRef {
  const person = personByAccount(policy, platform, userId);
  if (person) return { id: person.key, name: person.name, platform, platformUserId: userId };
  return { id: `${platform}:${userId}`, name: displayName?.trim() || userId, platform, platformUserId: userId };
}

export function personActor(person: PersonRef): Actor {
  return { kind: 'person', person };
}

export function systemActor(reason: string): Actor {
  return { kind: 'system', reason };
}
