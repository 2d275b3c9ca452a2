import { describe, expect, it } from 'vitest';
import { parseCommand, type ParsedCommand } from '../../src/flows/commands/parse';
import type { CommandType } from '../../src/flows/incident/commands';
import { createIncident, LIMITS } from '../../src/flows/incident/decide';
import type { Actor, EventBody, TimelineEntry } from '../../src/flows/incident/events';
import type { Incident } from '../../src/flows/incident/model';
import { allowedFrom } from '../../src/flows/incident/transitions';
import { decodeButtonValue, type ActionId } from '../../src/flows/messages/card';
import { buildIncidentCard } from '../../src/flows/messages/cards';
import { catalogKeys, t, type MessageKey } from '../../src/flows/messages/catalog';
import { parseLocalDateTime } from '../../src/flows/messages/forms';
import { refusalText } from '../../src/flows/messages/refusals';
import type { Locale } from '../../src/flows/policy/policy';
import { personRef, testPolicy } from '../support/policy';
import { INCIDENT_ID, T0, as, asRef, at, cmd, given, report } from './fixtures';

const policy = testPolicy();

describe('catalogs', () => {
  const params = (locale: Locale, key: string) => [...new Set(t(locale, key as MessageKey).match(/\{\w+\}/g) ?? [])].sort();

  it('zh-CN and en have exactly the same keys', () => {
    const en = catalogKeys('en');
    const zh = catalogKeys('zh-CN');
    expect(en.length).toBeGreaterThan(100);
    expect([...zh].sort()).toEqual([...en].sort());
  });

  it('every {param} used in one language is used in the other', () => {
    const mismatched = catalogKeys('en')
      .map((key) => ({ key, en: params('en', key), zh: params('zh-CN', key) }))
      .filter((m) => m.en.join() !== m.zh.join());
    expect(mismatched).toEqual([]);
  });

  it('no zh-CN message is left in English where English has words to translate', () => {
    const same = catalogKeys('en').filter((k) => {
      const en = t('en', k as MessageKey);
      return /[a-z]{3,}/i.test(en.replace(/\{\w+\}/g, '').replace(/Firebell|Slack|INC|YYYY-MM-DD HH:mm|\/incident/g, '')) && en === t('zh-CN', k as MessageKey);
    });
    expect(same).toEqual([]);
  });
});

// ── Cards ──
const ACTION_COMMAND: Partial<Record<ActionId, CommandType>> = {
  'incident.accept': 'AcceptIncident',
  'incident.escalate': 'EscalateIncident',
  'incident.reassign': 'ReassignIncident',
  'incident.hold': 'HoldIncident',
  'incident.resume': 'ResumeIncident',
  'incident.resolve': 'ResolveIncident',
  'incident.confirm': 'ConfirmResolution',
  'incident.reopen': 'ReopenIncident',
  'incident.reject': 'RejectIncident',
  'incident.rate': 'RateIncident',
  'request.approve': 'ApproveRequest',
  'request.deny': 'DenyRequest',
  'incident.declare_major': 'DeclareMajor',
  'war_room.join': 'JoinWarRoom',
  'war_room.update': 'PostStatusUpdate',
  'war_room.roles': 'ChangeMajorRoles',
  'major.confirm': 'ConfirmMajor',
  'major.downgrade': 'DowngradeMajor',
};

function entry(event: EventBody, actor: Actor, when: string, status: Incident['status']): TimelineEntry {
  return { incidentId: INCIDENT_ID, seq: 9, at: when, actor, platform: 'slack', automatic: actor.kind === 'system', event, status };
}

const fresh = () => report();
const atDesk = () => given(fresh(), [[cmd.accept, as('zhang.san')]]);
const atL1 = () => given(atDesk(), [[cmd.escalate('needs on-site visit'), as('zhang.san')], [cmd.accept, as('li.wei')]], 2);
const held = () => given(atL1(), [[cmd.hold('waiting for the user'), as('li.wei')]], 5);
const request = () => report({ category: 'service_request', title: 'New laptop' });

/** A live queue card (in the incident's own tier): the buttons it must offer, at least. */
const LIVE: [status: string, state: () => Incident, must: ActionId[], mustNot: ActionId[]][] = [
  ['pending_approval', request, ['request.approve', 'request.deny'], ['incident.accept', 'incident.resolve']],
  // No Escalate on a new card: only an assignee or incident manager may escalate (accept first).
  ['new', fresh, ['incident.accept', 'incident.resolve', 'incident.reject'], ['incident.escalate', 'incident.hold', 'incident.resume', 'request.approve']],
  ['in_progress', atL1, ['incident.resolve', 'incident.escalate', 'incident.hold', 'incident.reassign'], ['incident.accept', 'incident.resume']],
  ['pending', held, ['incident.resume', 'incident.resolve'], ['incident.accept', 'incident.hold', 'incident.escalate']],
];

describe('buildIncidentCard', () => {
  it.each(LIVE)('live queue card, %s: offers the buttons the state allows, and only those', (_s, state, must, mustNot) => {
    const incident = state();
    const card = buildIncidentCard(incident, `queue:${incident.tier}`, null, { policy, locale: 'en' });
    const ids = card.buttons.map((b) => b.actionId);
    expect(ids).toEqual(expect.arrayContaining(must));
    for (const id of mustNot) expect(ids).not.toContain(id);
    for (const id of ids) expect(allowedFrom(ACTION_COMMAND[id]!, incident.status), `${id} on ${incident.status}`).toBe(true);
    for (const b of card.buttons) expect(decodeButtonValue(b.value)).toEqual({ incidentId: incident.id, version: incident.version });
    expect(card.outcome).toBeNull();
    expect(card.title).toBe(`INC-12 · ${incident.title}`);
  });

  it('labels the buttons in the reader’s language', () => {
    const zh = buildIncidentCard(fresh(), 'queue:desk', null, { policy, locale: 'zh-CN' });
    expect(zh.buttons.find((b) => b.actionId === 'incident.accept')?.label).toBe('受理');
    const en = buildIncidentCard(fresh(), 'queue:desk', null, { policy, locale: 'en' });
    expect(en.buttons.find((b) => b.actionId === 'incident.accept')?.label).toBe('Accept');
  });

  it('the old queue’s card after an escalation: no buttons, what happened and where it went', () => {
    const moved = given(atDesk(), [[cmd.escalate('needs on-site visit'), as('zhang.san')]], 2);
    const last = entry({ type: 'IncidentEscalated', fromTier: 'desk', toTier: 'l1', reason: 'needs on-site visit' }, as('zhang.san'), at(2), 'new');
    const card = buildIncidentCard(moved, 'queue:desk', last, { policy, locale: 'en' });
    expect(card.buttons).toEqual([]);
    expect(card.outcome).toContain('Escalated to L1 engineers by Zhang San');
    expect(card.outcome).toContain('needs on-site visit');
    expect(card.outcome).toContain('Moved to L1 engineers');
    // The new queue's card is the live one.
    const live = buildIncidentCard(moved, 'queue:l1', last, { policy, locale: 'en' });
    expect(live.buttons.map((b) => b.actionId)).toContain('incident.accept');
  });

  it('a closed incident’s queue card: no buttons, the outcome line', () => {
    const closed = given(atL1(), [[cmd.resolve(), as('li.wei')], [cmd.confirm, asRef(personRef('reporter.a'))]], 10);
    const last = entry({ type: 'ResolutionConfirmed' }, asRef(personRef('reporter.a')), at(11), 'closed');
    const card = buildIncidentCard(closed, 'queue:l1', last, { policy, locale: 'en' });
    expect(card.buttons).toEqual([]);
    expect(card.outcome).toMatch(/^Confirmed fixed by Reporter A .*; closed$/);
    expect(card.accent).toBe('done');
  });

  it('the outcome line shows the time in the deployment’s time zone', () => {
    const last = entry({ type: 'IncidentRejected', reason: 'not IT' }, as('zhang.san'), '2026-11-23T02:42:00.000Z', 'rejected');
    const rejected = given(fresh(), [[cmd.reject('not IT'), as('zhang.san')]]);
    const card = buildIncidentCard(rejected, 'queue:desk', last, { policy, locale: 'en' });
    expect(card.buttons).toEqual([]);
    expect(card.outcome).toContain('Rejected by Zhang San');
    expect(card.outcome).toContain('10:42'); // 02:42 UTC is 10:42 in Asia/Shanghai
  });

  it('the reporter’s card after a resolve asks: fixed or not?', () => {
    const resolved = given(atL1(), [[cmd.resolve('replaced the cable'), as('li.wei')]], 10);
    const card = buildIncidentCard(resolved, 'reporter', null, { policy, locale: 'en' });
    expect(card.buttons.map((b) => b.actionId)).toEqual(['incident.confirm', 'incident.reopen']);
    expect(card.body).toContain('replaced the cable');
    expect(card.body).toContain('Li Wei');
  });
});

describe('refusalText', () => {
  const incident = () => atL1();
  const lost = { ok: false, reason: 'already_accepted', by: personRef('li.wei') } as const;

  it.each([
    ['en', 'INC-12 is already accepted by Li Wei.'],
    ['zh-CN', 'INC-12 已由 Li Wei 受理。'],
  ] as const)('already accepted names the winner (%s)', (locale, text) => {
    expect(refusalText(lost, incident(), locale, '', 'li.na')).toBe(text);
  });

  it('tells the winner they already have it', () => {
    expect(refusalText(lost, incident(), 'en', '', 'li.wei')).toBe('You have already accepted INC-12.');
  });

  it('names the field and the problem of an invalid input, in both languages', () => {
    const r = { ok: false, reason: 'invalid_input', field: 'title', problem: `too_long:${LIMITS.title}` } as const;
    expect(refusalText(r, null, 'en')).toBe('Please check the title: it is longer than 150 characters.');
    expect(refusalText(r, null, 'zh-CN')).toBe('请检查标题：超过 150 个字符。');
  });
});

// ── Typed commands ──
const LONG = 'a'.repeat(200);
const PARSE: [input: string, expected: ParsedCommand][] = [
  ['help', { kind: 'help' }],
  ['HELP', { kind: 'help' }],
  ['帮助', { kind: 'help' }],
  ['list', { kind: 'list' }],
  ['列表', { kind: 'list' }],
  ['status', { kind: 'status', number: null }],
  ['status INC-12', { kind: 'status', number: 'INC-12' }],
  ['status inc-12', { kind: 'status', number: 'INC-12' }],
  ['status #7', { kind: 'status', number: 'INC-7' }],
  ['状态 12', { kind: 'status', number: 'INC-12' }],
  ['status INC-12x', { kind: 'error', key: 'command.status_needs_number', text: 'INC-12x' }],
  ['status #1a', { kind: 'error', key: 'command.status_needs_number', text: '#1a' }],
  // A report that starts with a sub-command word is still a report.
  ['status page is down', { kind: 'report', title: 'status page is down', description: '' }],
  ['list of printers is wrong', { kind: 'report', title: 'list of printers is wrong', description: '' }],
  ['new laptop will not boot', { kind: 'report', title: 'new laptop will not boot', description: '' }],
  ['help me, the VPN is down', { kind: 'report', title: 'help me, the VPN is down', description: '' }],
  ['', { kind: 'form', title: '' }],
  ['   ', { kind: 'form', title: '' }],
  ['report', { kind: 'form', title: '' }],
  ['VPN keeps dropping', { kind: 'report', title: 'VPN keeps dropping', description: '' }],
  ['报障 打印机卡纸', { kind: 'report', title: '打印机卡纸', description: '' }],
  ['Printer on 3F jams\nIt jams every morning since Monday.', { kind: 'report', title: 'Printer on 3F jams', description: 'Printer on 3F jams\nIt jams every morning since Monday.' }],
  [`${LONG}\nmore`, { kind: 'report', title: `${'a'.repeat(149)}…`, description: `${LONG}\nmore` }],
  // Card actions typed: only with a number after the verb.
  ['accept INC-12', { kind: 'act', action: 'incident.accept', number: 'INC-12', text: '' }],
  ['受理 12', { kind: 'act', action: 'incident.accept', number: 'INC-12', text: '' }],
  ['升级 INC-3 需要网络组的权限', { kind: 'act', action: 'incident.escalate', number: 'INC-3', text: '需要网络组的权限' }],
  ['resolve #4 config_change MTU back to 1400', { kind: 'act', action: 'incident.resolve', number: 'INC-4', text: 'config_change MTU back to 1400' }],
  ['评分 INC-5 5 很好', { kind: 'act', action: 'incident.rate', number: 'INC-5', text: '5 很好' }],
  ['resolve the DNS issue please', { kind: 'report', title: 'resolve the DNS issue please', description: '' }],
  ['accept', { kind: 'report', title: 'accept', description: '' }],
  ['升级 系统后无法登录', { kind: 'report', title: '升级 系统后无法登录', description: '' }],
];

describe('parseCommand', () => {
  it.each(PARSE)('%j', (input, expected) => {
    expect(parseCommand(input)).toEqual(expected);
  });

  it('a long first line is cut to the title limit', () => {
    const parsed = parseCommand(LONG);
    expect(parsed.kind).toBe('report');
    if (parsed.kind === 'report') {
      expect(Array.from(parsed.title)).toHaveLength(LIMITS.title);
      expect(parsed.description).toBe(LONG);
    }
  });

  it.each([
    ['plain letters', 'x'.repeat(400)],
    ['Chinese', '网'.repeat(400)],
    ['emoji', '🔥'.repeat(400)],
  ])('the cut title (%s) is one the report accepts', (_n, text) => {
    const parsed = parseCommand(text);
    if (parsed.kind !== 'report') throw new Error(`not a report: ${JSON.stringify(parsed)}`);
    const r = createIncident(
      { title: parsed.title, description: parsed.description },
      { id: INCIDENT_ID, seq: 1, now: T0, policy, reporter: personRef('reporter.a'), origin: { platform: 'slack', channel: 'D0REP' } },
    );
    expect(r).toMatchObject({ ok: true, incident: { title: parsed.title } });
  });
});

describe('parseLocalDateTime (Asia/Shanghai)', () => {
  it.each([
    ['2026-11-23 09:00', '2026-11-23T01:00:00.000Z'],
    ['2026-11-23T09:00', '2026-11-23T01:00:00.000Z'],
    ['  2026-11-23 9:05 ', '2026-11-23T01:05:00.000Z'],
    ['2026-01-01 00:30', '2025-12-31T16:30:00.000Z'],
    ['2026-11-23T01:00:00Z', '2026-11-23T01:00:00.000Z'],
    ['2026-11-23T09:00:00+08:00', '2026-11-23T01:00:00.000Z'],
  ])('%j → %s', (text, iso) => {
    expect(parseLocalDateTime(text, 'Asia/Shanghai')).toBe(iso);
  });

  it.each(['', 'tomorrow', 'next tuesday 9am', '2026-11-23', '23/11/2026 09:00', '2026-13-01 09:00', '2026-11-32 09:00', '2026-11-23 24:00', '2026-11-23 09:60', '2026-02-30 09:00', '2026-04-31 10:00'])(
    'rejects %j',
    (text) => {
      expect(parseLocalDateTime(text, 'Asia/Shanghai')).toBeNull();
    },
  );
});

describe('parseCommand: priority corrections', () => {
  it.each([
    ['priority INC-12 p2 misclassified, whole floor is affected', { kind: 'priority', number: 'INC-12', priority: 'P2', reason: 'misclassified, whole floor is affected' }],
    ['优先级 12 P1 全部门受影响', { kind: 'priority', number: 'INC-12', priority: 'P1', reason: '全部门受影响' }],
    ['priority INC-12 urgent', { kind: 'error', key: 'command.priority_usage', text: 'INC-12 urgent' }],
    ['priority matrix is wrong in the report', { kind: 'report', title: 'priority matrix is wrong in the report', description: '' }],
  ])('%s', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });
});

describe('parseCommand: SLA view', () => {
  it.each([
    ['sla', { kind: 'sla', number: null }],
    ['SLA inc-7', { kind: 'sla', number: 'INC-7' }],
    ['时效 12', { kind: 'sla', number: 'INC-12' }],
    ['时限', { kind: 'sla', number: null }],
    ['sla INC-7x', { kind: 'error', key: 'command.sla_usage', text: 'INC-7x' }],
    // A report that happens to start with the word stays a report.
    ['sla breach on the payroll contract', { kind: 'report', title: 'sla breach on the payroll contract', description: '' }],
  ])('%s', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });
});
