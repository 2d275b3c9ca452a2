/**
 * The shared test policy: a small deployment with one person per role, built through the real
 * policy loader (`buildPolicy`), so the tests exercise the same validation as production.
 *
 * Stable exports (other test files import them; extend, do not rename):
 * - `testPolicyDoc()`  a fresh YAML-shaped policy document (safe to mutate)
 * - `testPolicy(overrides?)`  the built `Policy`; `overrides` replace whole top-level sections
 * - `TEST_PEOPLE`  person key → display name and Slack user id
 * - `TEST_QUEUES`  tier → queue channel per platform
 * - `personRef(key, platform?)`  a configured person as an incident remembers them
 * - `guestRef(userId, platform?)`  an unconfigured reporter (`<platform>:<user id>`)
 * - `TEST_TIME_ZONE`, `TEST_LOCALE`
 *
 * People (Slack account in brackets; on the console every person is addressed by their key):
 * - desk agent `zhang.san` [U0DESK]
 * - L1 engineers `li.wei` [U0L1] and `li.na` [U0L1B]
 * - L2 `wang.wu` [U0L2], L3 `zhao.liu` [U0L3]
 * - incident manager `chen.jing` [U0IM], approver `sun.li` [U0APP]
 * - project manager `pm.gao` [U0PM], management `boss.he` [U0MGMT]
 * - key user `vip.user` [U0VIP], plain configured user `reporter.a` [U0REP]
 *
 * Tier queues: Slack C0DESK / C0L1 / C0L2 / C0L3, console `desk` / `l1` / `l2` / `l3`.
 * Locale `en`, time zone Asia/Shanghai; an empty escalation matrix; SLA targets, auto-close (3d),
 * approval categories (service_request) and report defaults (fault, medium/medium) are the
 * loader's defaults (DOMAIN.md §5).
 */
import type { z } from 'zod';
import { buildPolicy, type policyFileSchema } from '../../src/config/policy-schema';
import type { PersonRef, Platform, Tier } from '../../src/flows/incident/model';
import type { Policy } from '../../src/flows/policy/policy';

/** The policy file as written in YAML (before defaults). */
export type PolicyDoc = z.input<typeof policyFileSchema>;

export const TEST_TIME_ZONE = 'Asia/Shanghai';
export const TEST_LOCALE = 'en' as const;

/** Every configured person: display name and Slack user id. */
export const TEST_PEOPLE = {
  'zhang.san': { name: 'Zhang San', slack: 'U0DESK' },
  'li.wei': { name: 'Li Wei', slack: 'U0L1' },
  'li.na': { name: 'Li Na', slack: 'U0L1B' },
  'wang.wu': { name: 'Wang Wu', slack: 'U0L2' },
  'zhao.liu': { name: 'Zhao Liu', slack: 'U0L3' },
  'chen.jing': { name: 'Chen Jing', slack: 'U0IM' },
  'sun.li': { name: 'Sun Li', slack: 'U0APP' },
  'pm.gao': { name: 'Gao PM', slack: 'U0PM' },
  'boss.he': { name: 'He Boss', slack: 'U0MGMT' },
  'vip.user': { name: 'VIP User', slack: 'U0VIP' },
  'reporter.a': { name: 'Reporter A', slack: 'U0REP' },
} as const;

export type TestPersonKey = keyof typeof TEST_PEOPLE;

/** Queue channel of each tier per platform. */
export const TEST_QUEUES: Record<Tier, { slack: string; console: string }> = {
  desk: { slack: 'C0DESK', console: 'desk' },
  l1: { slack: 'C0L1', console: 'l1' },
  l2: { slack: 'C0L2', console: 'l2' },
  l3: { slack: 'C0L3', console: 'l3' },
};

/** A fresh, mutable copy of the test policy document (YAML shape, as FIREBELL_CONFIG holds it). */
export function testPolicyDoc(): PolicyDoc {
  const people: Record<string, { name: string; slack: string }> = {};
  for (const [key, p] of Object.entries(TEST_PEOPLE)) people[key] = { name: p.name, slack: p.slack };
  const tier = (name: string, members: string[], t: Tier) => ({ name, members, queue: { ...TEST_QUEUES[t] } });
  return {
    locale: TEST_LOCALE,
    timeZone: TEST_TIME_ZONE,
    people,
    tiers: {
      desk: tier('Service desk', ['zhang.san'], 'desk'),
      l1: tier('L1 engineers', ['li.wei', 'li.na'], 'l1'),
      l2: tier('L2 support', ['wang.wu'], 'l2'),
      l3: tier('L3 experts', ['zhao.liu'], 'l3'),
    },
    roles: {
      incident_manager: ['chen.jing'],
      project_manager: ['pm.gao'],
      management: ['boss.he'],
      approver: ['sun.li'],
    },
    key_users: ['vip.user'],
    // No escalation matrix here: the lifecycle tests drive tiers by hand. The SLA tests opt into
    // DOMAIN.md's default matrix with `testPolicy({ escalation_matrix: undefined })`.
    escalation_matrix: { P1: [], P2: [], P3: [], P4: [] },
  };
}

/**
 * The test policy, validated by the real loader. `overrides` replace whole top-level sections of
 * the document (e.g. `{ defaults: { category: 'consultation' } }`); for finer changes edit a
 * `testPolicyDoc()` and pass it to `buildPolicy` yourself.
 */
export function testPolicy(overrides: Partial<PolicyDoc> = {}): Policy {
  return buildPolicy({ ...testPolicyDoc(), ...overrides }, 'test policy');
}

/** A configured person as the incident remembers them, acting from `platform` (default Slack). */
export function personRef(key: TestPersonKey, platform: Platform = 'slack'): PersonRef {
  const p = TEST_PEOPLE[key];
  return { id: key, name: p.name, platform, platformUserId: platform === 'slack' ? p.slack : key };
}

/** A reporter who is not in the policy: identified as `<platform>:<user id>`. */
export function guestRef(userId = 'U0GUEST', platform: Platform = 'slack', name = 'Guest User'): PersonRef {
  return { id: `${platform}:${userId}`, name, platform, platformUserId: userId };
}
