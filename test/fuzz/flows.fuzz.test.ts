/**
 * Property-based fuzzing of the flows (issue 7): random sequences of typed commands (English and
 * Chinese words, typed card actions, random numbers and text), button clicks with random and
 * mutated values, and form submissions with random values, by random people of the test policy,
 * through createInteractions(createDispatcher(...)) on one in-memory PGlite store. After every
 * step: nothing threw, the person got a clear answer (a refusal always has words), a refusal
 * changed nothing, and the lifecycle invariants hold on every incident the run touched.
 *
 * Then the same flows behind the Feishu and DingTalk event handlers, fed random callbacks: the
 * handlers never reject, and every person who wrote to the bot hears back.
 *
 * Inputs known to break the flows today (NUL and lone surrogates in text, JSON whose `toString`
 * is not a function, prototype names as people) are left out here and pinned, failing, in
 * regressions.fuzz.test.ts.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDingTalkEvents } from '../../src/adapters/dingtalk/events';
import type { DingTalkPort } from '../../src/adapters/dingtalk/port';
import type { DingTalkClient } from '../../src/adapters/dingtalk/client';
import { createFeishuEvents } from '../../src/adapters/feishu/events';
import { decodeCallbackValue, readFormValues } from '../../src/adapters/feishu/render';
import { buildPolicy } from '../../src/config/policy-schema';
import { createPgliteStore } from '../../src/db';
import type { TypedAction } from '../../src/flows/commands/parse';
import { createDispatcher } from '../../src/flows/dispatch';
import { CATEGORIES, LEVELS, RESOLUTION_CODES, STATUSES, TIERS, type Incident, type PersonRef, type Status } from '../../src/flows/incident/model';
import { createInteractions, type FormContext, type FormResult, type Interactions, type Reply } from '../../src/flows/interactions';
import { ACTION_IDS, encodeButtonValue } from '../../src/flows/messages/card';
import type { FormValues } from '../../src/flows/messages/forms';
import { systemClock, type IncidentStore } from '../../src/flows/ports';
import type { Policy } from '../../src/flows/policy/policy';
import { silentLogger } from '../../src/logger';
import { guestRef, personRef, TEST_PEOPLE, testPolicy, testPolicyDoc, type TestPersonKey } from '../support/policy';
import { ACTION_WORDS, commandLine, commandToken, jsonish, personText, separator, SUB_COMMAND_WORDS, wrongType } from './arbitraries';

const PERSON_KEYS = Object.keys(TEST_PEOPLE) as TestPersonKey[];
const FORM_IDS = ['report', ...ACTION_IDS] as const;
/**
 * The forms Firebell shows (the report, and the actions that ask for a reason, note or code).
 * Submitting any other form id is refused (regressions.fuzz.test.ts, E), so the properties here
 * submit only these.
 */
const SHOWN_FORMS = ['report', 'incident.escalate', 'incident.reject', 'incident.reopen', 'request.deny', 'incident.hold', 'incident.resolve', 'incident.reassign', 'war_room.update', 'major.downgrade', 'war_room.roles'] as const;
/** Bounded so the file stays well inside half a minute on PGlite. */
const RUNS = 50;
const STEPS = 20;

// ── Steps ──

/** Who acts: anyone, or the person the step is meant for (so that sequences get past the first refusals). */
type Who = { pick: 'anyone'; index: number } | { pick: 'fitting' };
/** Which incident: one this run filed (by index), or a number / id nobody has. */
type Target = { known: number } | { unknown: true };
type VersionSpec = 'current' | 'previous' | 'next' | number;

type Step =
  | { kind: 'type'; who: Who; word: string; target: Target; args: string[]; sep: string; channel: string }
  | { kind: 'free'; who: Who; text: string; channel: string }
  /** A move that fits the incident's status now (accept a new one, resolve one in progress, …), typed by the right person. */
  | { kind: 'next'; target: Target; choice: number; text: string; lang: 'en' | 'zh' }
  | { kind: 'click'; who: Who; action: string; target: Target; version: VersionSpec; arg: string | undefined }
  | { kind: 'garbageClick'; who: Who; action: string; value: unknown }
  | { kind: 'submit'; who: Who; formId: string; target: Target | null; version: VersionSpec | null; values: FormValues; channel: string };

const who: fc.Arbitrary<Who> = fc.oneof(
  { weight: 2, arbitrary: fc.nat({ max: PERSON_KEYS.length + 1 }).map((index) => ({ pick: 'anyone' as const, index })) },
  { weight: 5, arbitrary: fc.constant({ pick: 'fitting' as const }) },
);
/** Mostly the run's first incident, so that one record goes round the lifecycle; sometimes another, or none. */
const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ known: 0 }) },
  { weight: 3, arbitrary: fc.nat({ max: 5 }).map((known) => ({ known })) },
  { weight: 1, arbitrary: fc.constant({ unknown: true as const }) },
);
/** Typed words, weighted toward the lifecycle's main road (accept, hold, resume, resolve, confirm). */
const typedWord = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('accept', '受理', '接单') },
  { weight: 4, arbitrary: fc.constantFrom('hold', '挂起', 'resume', '恢复', 'resolve', '解决', 'confirm', '确认') },
  { weight: 3, arbitrary: fc.constantFrom(...Object.keys(ACTION_WORDS)) },
  { weight: 2, arbitrary: fc.constantFrom(...SUB_COMMAND_WORDS) },
);
const version: fc.Arbitrary<VersionSpec> = fc.oneof({ weight: 6, arbitrary: fc.constant('current' as const) }, fc.constantFrom('previous' as const, 'next' as const), fc.integer({ min: -1, max: 40 }));
const channel = fc.constantFrom('C0DESK', 'C0L1', 'D0PRIVATE', 'C0ROOM');
/** What follows a typed action: a code, a tier or person, a score, a reason; people type all sorts. */
const actionArgs = fc.array(fc.oneof({ weight: 2, arbitrary: personText.filter((s) => s.trim().length > 0) }, { weight: 3, arbitrary: commandToken(fc.integer({ min: 1, max: 30 })) }), { maxLength: 3 });

/** Form values, field by field: the options the form offers, wrong ones, and typed text. */
const formValue = fc.oneof(
  fc.constantFrom(...RESOLUTION_CODES, ...TIERS, ...CATEGORIES, ...LEVELS, 'l1:li.wei', 'l1:li.na', 'l2:wang.wu', 'desk:zhang.san', 'l3:li.wei', ':', 'l9', ...PERSON_KEYS, 'nobody'),
  fc.constantFrom('2030-01-01 09:00', '2020-01-01 09:00', '2026-02-30 10:00', 'tomorrow', '2031-06-01T08:00:00Z'),
  personText,
);
const FIELDS = ['reason', 'until', 'code', 'note', 'tier', 'person', 'update', 'commander', 'comms', 'title', 'description', 'category', 'impact', 'urgency', 'system', 'location'];
const formValues: fc.Arbitrary<FormValues> = fc.dictionary(fc.constantFrom(...FIELDS), fc.option(formValue, { nil: undefined }), { maxKeys: 6 });

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('type' as const),
      who,
      word: typedWord,
      target,
      args: actionArgs,
      sep: separator,
      channel,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('next' as const), target, choice: fc.nat(), text: personText.filter((t) => /^\S/.test(t) && !/[\r\n]/.test(t)), lang: fc.constantFrom('en' as const, 'zh' as const) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('free' as const), who, text: fc.oneof(commandLine(fc.integer({ min: 0, max: 40 })), personText), channel }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('click' as const),
      who,
      action: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...ACTION_IDS) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
      target,
      version,
      arg: fc.option(fc.constantFrom('1', '3', '5', '0', '6', 'x', ' 4'), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbageClick' as const), who, action: fc.constantFrom(...ACTION_IDS), value: fc.oneof(wrongType, personText, fc.uuid().map((u) => `${u}|1|`)) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      who,
      formId: fc.constantFrom(...SHOWN_FORMS),
      target: fc.option(target, { nil: null }),
      version: fc.option(version, { nil: null }),
      values: formValues,
      channel,
    }),
  },
);

/** A run: a few reports to work on, then the steps. */
const scenario = fc.record({
  reports: fc.array(fc.record({ reporter: fc.nat({ max: PERSON_KEYS.length + 1 }), title: personText.filter((s) => s.trim().length > 0), category: fc.constantFrom(...CATEGORIES), impact: fc.constantFrom(...LEVELS), urgency: fc.constantFrom(...LEVELS) }), { minLength: 1, maxLength: 3 }),
  // Full-length runs: short ones never get past accept.
  steps: fc.array(step, { minLength: STEPS / 2, maxLength: STEPS, size: 'max' }),
});

// ── Whose turn it is ──

/** The role a typed action or sub-command is meant for; "fitting" people are picked by it. */
const ROLE_OF: Record<string, 'tier' | 'assignee' | 'reporter' | 'approver' | 'manager' | 'anyone'> = {
  'incident.accept': 'tier',
  'incident.reject': 'tier',
  'incident.escalate': 'assignee',
  'incident.hold': 'assignee',
  'incident.resume': 'assignee',
  'incident.resolve': 'assignee',
  'incident.reassign': 'assignee',
  'incident.confirm': 'reporter',
  'incident.reopen': 'reporter',
  'incident.rate': 'reporter',
  'request.approve': 'approver',
  'request.deny': 'approver',
  'incident.declare_major': 'manager',
  'major.confirm': 'manager',
  'major.downgrade': 'manager',
  'war_room.join': 'manager',
  'war_room.update': 'manager',
  'war_room.roles': 'manager',
  report: 'anyone',
};
/** The moves each status allows, as typed in each language; `{text}` is a reason or note. */
const NEXT: Partial<Record<Status, { action: TypedAction; en: string; zh: string }[]>> = {
  pending_approval: [
    { action: 'request.approve', en: 'approve', zh: '批准' },
    { action: 'request.deny', en: 'deny', zh: '拒绝' },
  ],
  new: [
    { action: 'incident.accept', en: 'accept', zh: '受理' },
    { action: 'incident.accept', en: 'accept', zh: '接单' },
    { action: 'incident.reject', en: 'reject', zh: '驳回' },
  ],
  in_progress: [
    { action: 'incident.resolve', en: 'resolve', zh: '解决' },
    { action: 'incident.hold', en: 'hold', zh: '挂起' },
    { action: 'incident.escalate', en: 'escalate', zh: '升级' },
  ],
  pending: [{ action: 'incident.resume', en: 'resume', zh: '恢复' }],
  resolved: [
    { action: 'incident.confirm', en: 'confirm', zh: '确认' },
    { action: 'incident.confirm', en: 'confirm', zh: '确认' },
    { action: 'incident.reopen', en: 'reopen', zh: '重开' },
  ],
  closed: [{ action: 'incident.rate', en: 'rate', zh: '评分' }],
};

const GUESTS = [guestRef('U0GUEST'), guestRef('U0STRANGER', 'slack', 'Stranger')];

function person(policy: Policy, spec: Who, role: string, incident: Incident | null): PersonRef {
  if (spec.pick === 'anyone') return spec.index < PERSON_KEYS.length ? personRef(PERSON_KEYS[spec.index]!) : GUESTS[spec.index - PERSON_KEYS.length]!;
  const key = (k: string | undefined) => (k && (PERSON_KEYS as string[]).includes(k) ? personRef(k as TestPersonKey) : (GUESTS[0] as PersonRef));
  // Own keys only: an action id such as `__proto__` means no role, not Object.prototype.
  switch (Object.hasOwn(ROLE_OF, role) ? ROLE_OF[role]! : 'manager') {
    case 'tier':
      return key(policy.tiers[incident?.tier ?? 'desk'].members[0]);
    case 'assignee':
      return incident?.assignee ? key(incident.assignee.id) : key(policy.tiers[incident?.tier ?? 'desk'].members[0]);
    case 'reporter':
      return incident?.reporter ?? GUESTS[0]!;
    case 'approver':
      return key(policy.roles.approver[0]);
    case 'manager':
      return key(policy.roles.incident_manager[0]);
    case 'anyone':
      return GUESTS[0]!;
  }
}

// ── What must hold ──

const FINAL: Status[] = ['closed', 'rejected'];
const WORKED: Status[] = ['in_progress', 'pending', 'resolved'];
const UNASSIGNED: Status[] = ['new', 'pending_approval', 'rejected'];

/** DOMAIN.md §4 on one stored incident. */
function expectLifecycle(i: Incident, policy: Policy) {
  expect(STATUSES).toContain(i.status);
  expect(i.number).toMatch(/^INC-\d+$/);
  expect(i.version).toBeGreaterThanOrEqual(1);
  expect(i.decisionVersion).toBeLessThanOrEqual(i.version);
  if (WORKED.includes(i.status)) expect(i.assignee, `${i.number} ${i.status} without an assignee`).not.toBeNull();
  if (UNASSIGNED.includes(i.status)) expect(i.assignee, `${i.number} ${i.status} with an assignee`).toBeNull();
  // A resolved or closed incident has its resolution; closed is only reached through resolved.
  if (i.status === 'resolved' || i.status === 'closed') {
    expect(RESOLUTION_CODES).toContain(i.resolutionCode);
    expect(i.resolvedAt).not.toBeNull();
  }
  expect(i.closedAt !== null).toBe(FINAL.includes(i.status));
  expect(i.pendingSince !== null).toBe(i.status === 'pending');
  if (i.status !== 'pending') expect(i.waitUntil).toBeNull();
  if (i.rating !== null) {
    expect(i.status).toBe('closed');
    expect([1, 2, 3, 4, 5]).toContain(i.rating);
  }
  expect(i.pendingMs).toBeGreaterThanOrEqual(0);
  if (i.owner) expect(policy.tiers.desk.members).toContain(i.owner.id);
}

/** Words for the person: never empty, never a placeholder the catalog forgot to fill. */
function expectClearText(text: string) {
  expect(typeof text).toBe('string');
  expect(text.trim().length, 'an empty answer').toBeGreaterThan(0);
  expect(text).not.toMatch(/\{\w+\}/);
  expect(text).not.toMatch(/\bundefined\b|\[object Object\]/);
}

function expectClearReply(r: Reply) {
  expect(['text', 'card', 'form']).toContain(r.kind);
  if (r.kind === 'text') expectClearText(r.text);
  if (r.kind === 'card') expect(r.card.title.trim().length).toBeGreaterThan(0);
  if (r.kind === 'form') {
    expect(r.form.fields.length).toBeGreaterThan(0);
    expect(FORM_IDS).toContain(r.context.formId);
  }
}

/** Whether an answer is a refusal (a refused text, or a form sent back with its field problems). */
function refused(r: Reply | FormResult): boolean {
  if ('kind' in r) return r.kind === 'text' && r.refused;
  if (r.ok) return false;
  if ('fieldErrors' in r) {
    expect(Object.keys(r.fieldErrors).length).toBeGreaterThan(0);
    for (const msg of Object.values(r.fieldErrors)) expectClearText(msg);
    return true;
  }
  expectClearReply(r.reply);
  return r.reply.kind === 'text' && r.reply.refused;
}

/** What the property remembers of an incident between steps. */
interface Known {
  version: number;
  entries: number;
  status: Status;
  owner: string | null;
  reporter: string;
  number: string;
}

describe('the flows under random commands, clicks and submissions (property)', () => {
  const policy = testPolicy();
  let store: IncidentStore;
  let ix: Interactions;
  beforeAll(async () => {
    store = await createPgliteStore(null);
    ix = createInteractions(createDispatcher({ store, clock: systemClock(), policy, platforms: ['slack'], newId: randomUUID, logger: silentLogger }));
  });
  afterAll(async () => {
    await store.close();
  });

  it('never throw, always answer clearly, refuse without changing anything, and keep the lifecycle invariants', async () => {
    const known = new Map<string, Known>();
    const byNumber = new Map<string, string>();
    const reached = new Set<Status>();
    let steps = 0;
    let refusals = 0;

    /** Incidents new since the last look (at most a couple per step), then every incident of the run re-read. */
    async function observe(runIds: string[]): Promise<{ changed: string[] }> {
      const changed: string[] = [];
      for (const i of await store.list({ limit: 5 })) {
        if (known.has(i.id) || runIds.includes(i.id)) continue;
        runIds.push(i.id);
      }
      for (const id of runIds) {
        const i = await store.get(id);
        expect(i, `incident ${id} disappeared`).not.toBeNull();
        const before = known.get(id);
        if (before && before.version === i!.version) continue;
        changed.push(id);
        expectLifecycle(i!, policy);
        reached.add(i!.status);
        // No two incidents share a number, and a number never moves.
        expect(byNumber.get(i!.number) ?? id, `${i!.number} names two incidents`).toBe(id);
        byNumber.set(i!.number, id);
        const timeline = await store.timeline(id);
        expect(timeline.map((e) => e.seq)).toEqual(timeline.map((_, n) => n + 1));
        expect(timeline[0]!.event.type).toBe('IncidentReported');
        expect(timeline.at(-1)!.status).toBe(i!.status);
        // One commit per version, each with at least one entry.
        expect(timeline.length).toBeGreaterThanOrEqual(i!.version);
        if (before) {
          expect(i!.version).toBeGreaterThan(before.version);
          expect(timeline.length - before.entries).toBeGreaterThanOrEqual(i!.version - before.version);
          expect(i!.number).toBe(before.number);
          expect(i!.reporter.id).toBe(before.reporter);
          if (before.status === 'rejected') expect(i!.status).toBe('rejected');
          if (before.status === 'closed') expect(i!.status).toBe('closed');
          if (before.owner) expect(i!.owner?.id).toBe(before.owner);
        }
        known.set(id, { version: i!.version, entries: timeline.length, status: i!.status, owner: i!.owner?.id ?? null, reporter: i!.reporter.id, number: i!.number });
      }
      return { changed };
    }

    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const runIds: string[] = [];
        for (const r of sc.reports) {
          const reporter = person(policy, { pick: 'anyone', index: r.reporter }, 'report', null);
          const filed = await ix.submit(reporter, { formId: 'report', incidentId: null, version: null, channel: 'D0' }, { title: r.title, category: r.category, impact: r.impact, urgency: r.urgency }, { platform: 'slack', channel: 'D0', commandName: '/incident' });
          refused(filed);
          await observe(runIds);
        }
        for (const s of sc.steps) {
          steps++;
          const incidentOf = async (t: Target | null): Promise<Incident | null> => (t && 'known' in t && runIds.length ? store.get(runIds[t.known % runIds.length]!) : null);
          const ctx = (ch = 'D0') => ({ platform: 'slack' as const, channel: ch, commandName: '/incident' });
          const versionOf = (v: VersionSpec, i: Incident | null) => (v === 'current' ? (i?.version ?? 1) : v === 'previous' ? (i?.version ?? 1) - 1 : v === 'next' ? (i?.version ?? 1) + 1 : v);
          let answer: Reply | FormResult;
          switch (s.kind) {
            case 'type': {
              const incident = await incidentOf(s.target);
              const action: TypedAction | undefined = ACTION_WORDS[s.word];
              const role = action ?? (['major', '重大', '重大事件', 'priority', '优先级', 'link', '关联', 'update', '进展', '更新', 'note', '记录', '备注'].includes(s.word) ? 'incident.declare_major' : 'report');
              const ref = incident ? incident.number : 'INC-999999';
              const line = [s.word, ref, ...s.args].join(s.sep);
              answer = await ix.command(person(policy, s.who, role, incident), line, ctx(s.channel));
              break;
            }
            case 'next': {
              const incident = await incidentOf(s.target);
              const moves = incident ? (NEXT[incident.status] ?? []) : [];
              const move = moves[s.choice % Math.max(1, moves.length)];
              if (!incident || !move) continue;
              const arg = move.action === 'incident.rate' ? String(1 + (s.choice % 5)) : s.text;
              answer = await ix.command(person(policy, { pick: 'fitting' }, move.action, incident), `${move[s.lang]} ${incident.number} ${arg}`, ctx());
              break;
            }
            case 'free':
              answer = await ix.command(person(policy, s.who, 'report', null), s.text, ctx(s.channel));
              break;
            case 'click': {
              const incident = await incidentOf(s.target);
              const value = encodeButtonValue({ incidentId: incident?.id ?? randomUUID(), version: versionOf(s.version, incident), ...(s.arg !== undefined ? { arg: s.arg } : {}) });
              answer = await ix.click(person(policy, s.who, s.action, incident), s.action, value, ctx());
              break;
            }
            case 'garbageClick':
              answer = await ix.click(person(policy, s.who, s.action, null), s.action, s.value, ctx());
              break;
            case 'submit': {
              const incident = await incidentOf(s.target);
              const context: FormContext = {
                formId: s.formId as FormContext['formId'],
                incidentId: s.target === null ? null : (incident?.id ?? randomUUID()),
                version: s.version === null ? null : versionOf(s.version, incident),
                channel: s.channel,
              };
              answer = await ix.submit(person(policy, s.who, s.formId, incident), context, s.values, ctx(s.channel));
              break;
            }
          }
          const wasRefused = refused(answer);
          if ('kind' in answer) expectClearReply(answer);
          else if (answer.ok) expectClearReply(answer.reply);
          const { changed } = await observe(runIds);
          // A refusal changes nothing: no incident moved, none was filed.
          if (wasRefused) {
            refusals++;
            expect(changed, `refused, yet ${changed.join(', ')} changed`).toEqual([]);
          }
        }
      }),
      { numRuns: RUNS },
    );

    // The steps must get past the first refusals and round the lifecycle, or they say little.
    expect(steps).toBeGreaterThan(RUNS * 5);
    expect(refusals).toBeGreaterThan(steps / 10);
    expect(refusals).toBeLessThan(steps);
    for (const status of ['new', 'in_progress', 'pending', 'resolved', 'closed', 'rejected'] as Status[]) expect([...reached], `never reached ${status}`).toContain(status);
    // Across all runs: every number names one incident.
    const all = await store.list({ limit: 100_000 });
    expect(new Set(all.map((i) => i.number)).size).toBe(all.length);
    // About 10 s on an idle machine; a loaded CI box may take three times that.
  }, 120_000);
});

// ── The same flows behind the Feishu and DingTalk event handlers ──

/** The test policy with a Feishu open_id and a DingTalk staff id for everyone. */
function chatPolicy(): Policy {
  const doc = testPolicyDoc();
  const people = doc.people as Record<string, Record<string, string>>;
  for (const key of PERSON_KEYS) Object.assign(people[key]!, { feishu: `ou_${key.replace('.', '_')}`, dingtalk: `staff_${key.replace('.', '_')}` });
  return buildPolicy(doc, 'fuzz chat policy');
}
const OPEN_IDS = [...PERSON_KEYS.map((k) => `ou_${k.replace('.', '_')}`), 'ou_guest'];
const STAFF_IDS = [...PERSON_KEYS.map((k) => `staff_${k.replace('.', '_')}`), 'staff_guest'];

/** Interactions that remember what is in flight, so a test can wait for handlers that answer later. */
function tracked(inner: Interactions) {
  const inflight = new Set<Promise<unknown>>();
  const track = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => (...a: A): Promise<R> => {
    const p = f(...a);
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  };
  const interactions: Interactions = { ...inner, command: track(inner.command), click: track(inner.click), submit: track(inner.submit), reaction: track(inner.reaction) };
  const settle = async () => {
    for (let i = 0; i < 50 && inflight.size; i++) await Promise.allSettled([...inflight]);
    await new Promise((r) => setTimeout(r, 0));
  };
  return { interactions, settle };
}

describe('the Feishu and DingTalk event handlers over the flows, under random callbacks (property)', () => {
  const policy = chatPolicy();
  let store: IncidentStore;
  let ix: ReturnType<typeof tracked>;
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => void rejections.push(e);
  beforeAll(async () => {
    store = await createPgliteStore(null);
    ix = tracked(createInteractions(createDispatcher({ store, clock: systemClock(), policy, platforms: ['feishu', 'dingtalk'], newId: randomUUID, logger: silentLogger })));
    // A handler that drops a promise on the floor would show here, not as an answer.
    process.on('unhandledRejection', onRejection);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    await store.close();
  });

  /** A few incidents to click on, and their buttons. */
  async function someIncidents(): Promise<Incident[]> {
    const list = await store.list({ limit: 5 });
    if (list.length) return list;
    for (const title of ['打印机卡纸', 'VPN down']) await ix.interactions.command(personRef('reporter.a', 'feishu'), `report ${title}`, { platform: 'feishu', channel: 'oc_x', commandName: '/incident' });
    return store.list({ limit: 5 });
  }

  it('Feishu: handle never rejects, a card click always gets a toast with words, a message or menu always an answer', async () => {
    const said: string[] = [];
    const events = createFeishuEvents({
      interactions: ix.interactions,
      store,
      policy,
      logger: silentLogger,
      codec: { decode: decodeCallbackValue, readForm: readFormValues },
      botOpenId: 'ou_bot',
      callbackDeadlineMs: 20_000,
      replies: {
        text: async (_to, text) => void said.push(`text:${text}`),
        card: async (_to, card) => void said.push(`card:${card.title}`),
        form: async (_to, form) => void said.push(`form:${form.id}`),
      },
    });
    const incidents = await someIncidents();
    const openId = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...OPEN_IDS) }, { weight: 1, arbitrary: wrongType });
    const buttonFor = fc.tuple(fc.constantFrom(...ACTION_IDS), fc.nat({ max: incidents.length - 1 }), fc.integer({ min: 0, max: 5 }), fc.option(fc.constantFrom('1', '5', 'x'), { nil: undefined })).map(([action, i, dv, arg]) => ({
      action,
      value: encodeButtonValue({ incidentId: incidents[i]!.id, version: Math.max(1, incidents[i]!.version - dv), ...(arg ? { arg } : {}) }),
    }));
    const formSubmit = fc.tuple(fc.constantFrom(...SHOWN_FORMS), fc.nat({ max: incidents.length - 1 }), fc.boolean()).map(([form, i, withId]) => ({
      action: 'form.submit',
      form,
      context: JSON.stringify({ formId: form, incidentId: withId ? incidents[i]!.id : null, version: withId ? incidents[i]!.version : null, channel: 'oc_x' }),
    }));
    const callbackValue = fc.oneof({ weight: 4, arbitrary: buttonFor }, { weight: 3, arbitrary: formSubmit }, { weight: 1, arbitrary: fc.constant({ action: 'form.cancel', form: 'report', context: '{}' }) }, { weight: 2, arbitrary: jsonish }, { weight: 1, arbitrary: buttonFor.map((b) => JSON.stringify(b)) });
    const messageEvent = fc.record({
      sender: fc.record({ sender_type: fc.oneof({ weight: 9, arbitrary: fc.constant('user') }, { weight: 1, arbitrary: fc.constantFrom('app', 'bot') }), sender_id: fc.record({ open_id: openId }) }),
      message: fc.record(
        {
          message_id: fc.uuid().map((u) => `om_${u}`),
          chat_id: fc.oneof(fc.constantFrom('oc_ops', 'oc_desk', 'oc_p2p'), wrongType),
          chat_type: fc.constantFrom('p2p', 'group'),
          message_type: fc.oneof({ weight: 8, arbitrary: fc.constant('text') }, { weight: 1, arbitrary: fc.constantFrom('image', 'post') }),
          content: fc.oneof({ weight: 6, arbitrary: fc.tuple(fc.constantFrom('', '@_user_1 ', '/incident '), commandLine(fc.integer({ min: 0, max: 20 }))).map(([pre, t]) => JSON.stringify({ text: `${pre}${t}` })) }, { weight: 1, arbitrary: jsonish.map((v) => JSON.stringify(v)) }, { weight: 1, arbitrary: wrongType }),
          mentions: fc.oneof(fc.constant([{ key: '@_user_1', id: { open_id: 'ou_bot' }, name: 'Firebell' }]), fc.constant([]), wrongType),
        },
        { requiredKeys: ['message_id', 'chat_type', 'message_type'] },
      ),
    });
    const cardEvent = fc.record(
      {
        operator: fc.record({ open_id: openId }),
        action: fc.record({ tag: fc.constant('button'), value: callbackValue, form_value: fc.oneof(formValues, jsonish) }, { requiredKeys: ['value'] }),
        context: fc.record({ open_message_id: fc.constantFrom('om_card', ''), open_chat_id: fc.oneof(fc.constantFrom('oc_ops', 'oc_desk'), wrongType) }, { requiredKeys: [] }),
      },
      { requiredKeys: ['operator', 'action'] },
    );
    // Menu names are strings here: a number is regressions.fuzz.test.ts (D).
    const menuEvent = fc.record({ operator: fc.record({ operator_id: fc.record({ open_id: openId }), operator_name: fc.string({ maxLength: 8 }) }, { requiredKeys: ['operator_id'] }), event_key: fc.oneof(fc.constantFrom('report', 'list', 'help', 'status', ''), commandLine(fc.integer({ min: 0, max: 20 }))) });
    const envelope = fc.oneof(
      { weight: 4, arbitrary: messageEvent.map((event) => ({ type: 'im.message.receive_v1', event })) },
      { weight: 5, arbitrary: cardEvent.map((event) => ({ type: 'card.action.trigger', event })) },
      { weight: 2, arbitrary: menuEvent.map((event) => ({ type: 'application.bot.menu_v6', event })) },
      { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('im.chat.member.bot.added_v1', '', 'card.action.trigger'), event: jsonish }) },
    );

    let toasts = 0;
    await fc.assert(
      fc.asyncProperty(envelope, async ({ type, event }) => {
        const before = said.length;
        const payload = { schema: '2.0', header: { event_id: `ev_${randomUUID()}`, event_type: type, token: 't' }, event };
        const answer = (await events.handle(payload)) as { toast?: { type: string; content: string } };
        await ix.settle();
        expect(answer && typeof answer === 'object').toBe(true);
        const e = event as Record<string, any>;
        if (type === 'card.action.trigger' && typeof e?.operator?.open_id === 'string') {
          // A click is answered in the toast (or, for a card reply, with the card sent privately).
          if (answer.toast) {
            toasts++;
            expect(['info', 'success', 'error', 'warning']).toContain(answer.toast.type);
            expectClearText(answer.toast.content);
          } else expect(said.length).toBeGreaterThan(before);
        }
        const wrote = type === 'im.message.receive_v1' && e.sender.sender_type === 'user' && typeof e.sender.sender_id.open_id === 'string' && !!e.message.chat_id;
        const menu = type === 'application.bot.menu_v6' && typeof e.operator.operator_id.open_id === 'string';
        if (wrote || menu) {
          expect(said.length, 'a person wrote to the bot and heard nothing').toBeGreaterThan(before);
          for (const s of said.slice(before)) if (s.startsWith('text:')) expectClearText(s.slice(5));
        }
        expect(rejections).toEqual([]);
      }),
      { numRuns: 150 },
    );
    expect(toasts).toBeGreaterThan(30);
  });

  it('DingTalk: robot messages and card callbacks never reject, and every person who wrote hears back', async () => {
    const told: { to: string; text: string }[] = [];
    const port = {
      platform: 'dingtalk',
      templated: false,
      sendRobot: async (target: { id: string }, _key: string, param: Record<string, string>) => {
        told.push({ to: target.id, text: param.content ?? param.text ?? '' });
        return { channel: target.id, messageId: 'm' };
      },
      postCard: async (target: { id: string }) => {
        told.push({ to: target.id, text: 'card' });
        return { channel: target.id, messageId: 'm' };
      },
      cardParams: () => ({}),
    } as unknown as DingTalkPort;
    const client = { session: async (_url: string, body: { text?: { content?: string }; markdown?: { text?: string } }) => void told.push({ to: 'session', text: body.text?.content ?? body.markdown?.text ?? 'card' }) } as unknown as DingTalkClient;
    const events = createDingTalkEvents({ interactions: ix.interactions, store, policy, logger: silentLogger, port, client });
    const incidents = await someIncidents();

    const staffId = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...STAFF_IDS) }, { weight: 1, arbitrary: wrongType });
    const robot = fc.record(
      {
        senderStaffId: staffId,
        senderNick: fc.oneof(fc.string({ maxLength: 8 }), wrongType),
        msgtype: fc.oneof({ weight: 8, arbitrary: fc.constant('text') }, { weight: 1, arbitrary: fc.constantFrom('picture', 'richText') }, { weight: 1, arbitrary: wrongType }),
        text: fc.oneof({ weight: 8, arbitrary: fc.tuple(fc.constantFrom('', ' ', ' /incident '), commandLine(fc.integer({ min: 0, max: 20 }))).map(([pre, t]) => ({ content: `${pre}${t}` })) }, { weight: 1, arbitrary: wrongType }),
        conversationType: fc.oneof(fc.constantFrom('1', '2'), wrongType),
        conversationId: fc.oneof(fc.constantFrom('cidOps==', 'cidDesk=='), wrongType),
        sessionWebhook: fc.oneof(fc.constant('https://oapi.dingtalk.com/robot/sendBySession?session=x'), wrongType),
        sessionWebhookExpiredTime: fc.oneof(fc.constant(Date.now() + 3_600_000), fc.constant(0), wrongType),
        msgId: fc.uuid().map((u) => `msg${u}`),
      },
      { requiredKeys: ['senderStaffId', 'msgId'] },
    );
    const params = fc.oneof(
      fc.tuple(fc.constantFrom(...ACTION_IDS), fc.nat({ max: incidents.length - 1 }), fc.integer({ min: 0, max: 3 })).map(([action, i, dv]) => ({ action, value: encodeButtonValue({ incidentId: incidents[i]!.id, version: Math.max(1, incidents[i]!.version - dv) }) })),
      fc.record({ action: fc.oneof(fc.constantFrom(...ACTION_IDS), wrongType), value: fc.oneof(personText, wrongType) }, { requiredKeys: [] }),
    );
    const callback = fc.record(
      {
        userId: staffId,
        content: fc.oneof({ weight: 6, arbitrary: params.map((p) => JSON.stringify({ cardPrivateData: { actionIds: [], params: p } })) }, { weight: 1, arbitrary: jsonish.map((v) => JSON.stringify(v)) }, { weight: 1, arbitrary: personText }, { weight: 1, arbitrary: jsonish }),
        spaceId: fc.oneof(fc.constantFrom('', 'cidOps=='), wrongType),
        outTrackId: fc.oneof(fc.uuid(), wrongType),
      },
      { requiredKeys: ['userId'] },
    );

    await fc.assert(
      fc.asyncProperty(fc.oneof(robot.map((m) => ({ kind: 'robot' as const, m })), callback.map((c) => ({ kind: 'card' as const, c }))), fc.uuid(), async (input, deliveryId) => {
        const before = told.length;
        if (input.kind === 'robot') {
          await events.onRobotMessage(input.m as Record<string, unknown>);
          await ix.settle();
          // Everyone who wrote (a staff id) gets an answer: in the chat, or privately.
          if (typeof input.m.senderStaffId === 'string' && input.m.senderStaffId) expect(told.length, 'wrote to the bot and heard nothing').toBeGreaterThan(before);
        } else {
          const answer = await events.onCardCallback(input.c as Record<string, unknown>, deliveryId);
          await ix.settle();
          expect(answer && typeof answer === 'object').toBe(true);
          for (const t of told.slice(before)) expectClearText(t.text);
        }
        expect(rejections).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
