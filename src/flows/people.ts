import type { Actor } from './incident/events';
import type { PersonRef, Platform } from './incident/model';
import type { Policy } from './policy/policy';
import { personByAccount } from './policy/policy';

/**
 * Who a platform user is for the process: the configured person when their account is in the
 * policy, otherwise a guest reporter identified as `<platform>:<user id>`.
 */
export function identify(policy: Policy, platform: Platform, rawUserId: string, displayName?: unknown): PersonRef {
  const userId = cleanText(typeof rawUserId === 'string' ? rawUserId : '');
  const person = personByAccount(policy, platform, userId);
  if (person) return { id: person.key, name: person.name, platform, platformUserId: userId };
  const name = typeof displayName === 'string' ? cleanText(displayName).trim() : '';
  return { id: `${platform}:${userId}`, name: name || userId, platform, platformUserId: userId };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text as PostgreSQL can store it: without NUL characters (text and jsonb refuse U+0000) and with
 * lone UTF-16 surrogates replaced (jsonb refuses them). Everything people type or a platform
 * sends passes through here before it reaches the flows.
 */
export function cleanText(s: string): string {
  const noNul = s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
  return noNul.replace(LONE_SURROGATE, '\uFFFD');
}

export function personActor(person: PersonRef): Actor {
  return { kind: 'person', person };
}

export function systemActor(reason: string): Actor {
  return { kind: 'system', reason };
}
