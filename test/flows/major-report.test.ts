/**
 * The major incident analysis report 《重大事件处理分析报告》 (issue 4, DOMAIN.md §6), built from
 * a realistic timeline recorded through the dispatcher (in-memory PGlite, injected clock): every
 * section present and in order, one timeline line per entry with the right actor, durations
 * against the SLA computed here independently from the timestamps, participants with their
 * roles, the Markdown export and the Chinese version. Then `withoutTime` over every timeline
 * event type as outcomeLine renders it, in both locales.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore } from '../../src/db/index';
import { createDispatcher, type Dispatcher } from '../../src/flows/dispatch';
import type { Command } from '../../src/flows/incident/commands';
import type { EventBody, EventType, TimelineEntry } from '../../src/flows/incident/events';
import type { Incident, PersonRef } from '../../src/flows/incident/model';
import { buildMajorReport, reportToChat, reportToMarkdown, withoutTime, type MajorReport } from '../../src/flows/major/report';
import { outcomeLine } from '../../src/flows/messages/cards';
import { t, type MessageKey } from '../../src/flows/messages/catalog';
import { formatTime, humanDuration } from '../../src/flows/messages/format';
import { personActor } from '../../src/flows/people';
import type { IncidentStore } from '../../src/flows/ports';
import type { Locale } from '../../src/flows/policy/policy';
import { silentLogger } from '../../src/logger';
import { guestRef, personRef, testPolicy, TEST_TIME_ZONE, type TestPersonKey } from '../support/policy';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-11-23T01:00:00Z'); // Monday 09:00 in Asia/Shanghai
const iso = (ms: number) => new Date(ms).toISOString();

const policy = testPolicy({ major_incidents: { update_every: '30m', archive_after: '2d', review_due_after: '5d' } });
/** The report's time format (the deployment's time zone). */
const hhmm = (ms: number, locale: Locale = 'en') => formatTime(iso(ms), locale, TEST_TIME_ZONE);

const SECTION_KEYS: MessageKey[] = ['report.summary', 'report.impact', 'report.timeline', 'report.cause', 'report.actions', 'report.durations', 'report.participants', 'report.review'];

describe('the major incident analysis report', () => {
  let store: IncidentStore;
  let now = T0;
  let d: Dispatcher;
  let major: Incident;
  let child: Incident;
  let timeline: TimelineEntry[];
  let report: MajorReport;

  const actor = (key: TestPersonKey) => personActor(personRef(key));
  async function act(who: TestPersonKey, minute: number, command: Command) {
    now = T0 + minute * MIN;
    const r = await d.act(actor(who), { id: major.id }, command, { platform: 'slack' });
    if (!r.ok) throw new Error(`${command.type} refused: ${JSON.stringify(r)}`);
  }
  const section = (r: MajorReport, key: MessageKey, locale: Locale = 'en') => r.sections.find((s) => s.heading === t(locale, key))!;
  const fact = (r: MajorReport, key: MessageKey, label: MessageKey, locale: Locale = 'en') => section(r, key, locale).facts.find((f) => f.label === t(locale, label))?.value;

  beforeAll(async () => {
    store = await createPgliteStore(null);
    d = createDispatcher({ store, clock: { now: () => new Date(now) }, policy, platforms: ['slack'], newId: randomUUID, logger: silentLogger });

    // 09:00 a P1 is reported (and so declared major by the bot).
    const filed = await d.report(
      personRef('reporter.a'),
      { title: 'Payroll is down', description: 'Nobody can open the payroll portal; salaries are due today.', impact: 'high', urgency: 'high', system: 'payroll', location: 'HQ 3F' },
      { platform: 'slack', channel: 'C0GENERAL' },
    );
    if (!filed.ok) throw new Error(filed.reason);
    major = filed.incident;
    // 09:01 the war room is ready; 09:02 the incident manager confirms.
    now = T0 + MIN;
    await d.record(major.id, { type: 'RecordWarRoom', platform: 'slack', channel: 'C0ROOM', name: 'inc-1-payroll-is-down', invited: 6, uninvited: [] });
    await act('chen.jing', 2, { type: 'ConfirmMajor' });
    await act('zhang.san', 5, { type: 'AcceptIncident' });
    await act('zhang.san', 10, { type: 'PostStatusUpdate', text: 'Portal returns 502; checking the database' });
    // 09:15 a message by Wang Wu in the room, marked with the reaction by Chen Jing.
    await act('chen.jing', 15, { type: 'AddNote', text: 'DB primary is at 100 % CPU', source: 'reaction', author: personRef('wang.wu'), messageRef: 'slack:C0ROOM:1700000000.000100' });
    // 09:20 a guest reports the same outage: linked as known.
    now = T0 + 20 * MIN;
    const linked = await d.report(guestRef('U0PAYSLIP', 'slack', 'Payslip User'), { title: 'Payslips will not load', system: 'Payroll' }, { platform: 'slack', channel: 'C0GENERAL' });
    if (!linked.ok) throw new Error(linked.reason);
    child = linked.incident;
    await act('chen.jing', 25, { type: 'ChangeMajorRoles', commander: null, commsLead: 'pm.gao' });
    await act('zhang.san', 30, { type: 'EscalateIncident', reason: 'needs a database engineer' });
    await act('li.wei', 35, { type: 'AcceptIncident' });
    // 09:40 the update due 30 m after the first one: the bot reminds the commander.
    now = T0 + 40 * MIN;
    const fired = await d.fire({ incidentId: major.id, generation: (await d.load({ id: major.id }))!.version, at: iso(now) });
    if (fired.outcome !== 'applied') throw new Error(`reminder: ${fired.outcome}`);
    await act('li.wei', 45, { type: 'PostStatusUpdate', text: 'Failed over to the standby database; portal recovering' });
    await act('li.wei', 60, { type: 'HoldIncident', reason: 'waiting for the vendor', until: null });
    await act('li.wei', 80, { type: 'ResumeIncident' });
    await act('li.wei', 270, { type: 'ResolveIncident', code: 'workaround', note: 'Switched payroll to the standby database; root cause: a runaway report query' });

    major = (await d.load({ id: major.id }))!;
    timeline = await store.timeline(major.id);
    report = buildMajorReport(major, timeline, { policy, locale: 'en', now: T0 + 6 * HOUR });
  });
  afterAll(async () => {
    await store?.close();
  });

  it('has every section, in order, under the incident’s title', () => {
    expect(report.title).toBe(`Major incident analysis report: ${major.number} Payroll is down`);
    expect(report.number).toBe(major.number);
    expect(report.sections.map((s) => s.heading)).toEqual([
      'Summary',
      'Impact',
      'Timeline',
      'Root cause / workaround',
      'Actions and updates',
      'Durations against the SLA',
      'Participants',
      'Post-incident review',
    ]);
    expect(report.sections.map((s) => s.heading)).toEqual(SECTION_KEYS.map((k) => t('en', k)));
  });

  it('summary, impact and root cause tell what was recorded', () => {
    const summary = Object.fromEntries(section(report, 'report.summary').facts.map((f) => [f.label, f.value]));
    expect(summary).toEqual({
      Incident: `${major.number} · Payroll is down`,
      Priority: 'P1 Major',
      Category: t('en', 'category.fault'),
      Status: 'Resolved',
      'Major incident': 'confirmed',
      Reported: hhmm(T0),
      'Declared major': hhmm(T0),
      Resolved: hhmm(T0 + 270 * MIN),
      Closed: '—',
    });
    const impact = section(report, 'report.impact');
    expect(Object.fromEntries(impact.facts.map((f) => [f.label, f.value]))).toEqual({
      'Impact / urgency': 'High / High',
      'Affected system': 'payroll',
      Location: 'HQ 3F',
      'Linked reports (same outage)': `${child.number} (Payslip User)`,
    });
    expect(impact.lines).toEqual(['Nobody can open the payroll portal; salaries are due today.']);
    const cause = section(report, 'report.cause');
    expect(cause.facts).toEqual([
      { label: 'Resolution code', value: 'Workaround' },
      { label: 'Resolved by tier', value: 'L1 engineers' },
    ]);
    expect(cause.lines).toEqual(['Switched payroll to the standby database; root cause: a runaway report query']);
  });

  it('the timeline has one line per timeline entry, in order, each with its time and the right actor', () => {
    expect(timeline.map((e) => e.event.type)).toEqual([
      'IncidentReported',
      'MajorIncidentDeclared',
      'WarRoomOpened',
      'MajorIncidentConfirmed',
      'IncidentAccepted',
      'StatusUpdatePosted',
      'NoteAdded',
      'ReportLinked',
      'MajorRolesChanged',
      'IncidentEscalated',
      'IncidentAccepted',
      'UpdateReminderSent',
      'StatusUpdatePosted',
      'IncidentHeld',
      'IncidentResumed',
      'IncidentResolved',
      'ReviewScheduled',
    ]);
    const lines = section(report, 'report.timeline').lines;
    expect(lines).toHaveLength(timeline.length);
    const m = (minute: number) => hhmm(T0 + minute * MIN);
    expect(lines).toEqual([
      `${m(0)} · reported by Reporter A`,
      `${m(0)} · declared a major incident by Firebell (every P1 is major)`,
      `${m(1)} · war room #inc-1-payroll-is-down opened, 6 invited`,
      `${m(2)} · confirmed by Chen Jing`,
      `${m(5)} · Accepted by Zhang San`,
      `${m(10)} · 📣 Zhang San: Portal returns 502; checking the database`,
      `${m(15)} · 🗒️ Wang Wu: DB primary is at 100 % CPU`,
      `${m(20)} · ${child.number} from Payslip User linked as the same outage`,
      `${m(25)} · roles changed by Chen Jing: commander Chen Jing, communications Gao PM`,
      `${m(30)} · Escalated to L1 engineers by Zhang San: needs a database engineer`,
      `${m(35)} · Accepted by Li Wei`,
      `${m(40)} · status update reminder`,
      `${m(45)} · 📣 Li Wei: Failed over to the standby database; portal recovering`,
      `${m(60)} · Put on hold by Li Wei: waiting for the vendor`,
      `${m(80)} · Resumed by Li Wei`,
      `${m(270)} · Resolved by Li Wei (Workaround): Switched payroll to the standby database; root cause: a runaway report query`,
      `${m(270)} · post-incident review: Chen Jing, due ${hhmm(T0 + 270 * MIN + 5 * DAY)}`,
    ]);
    // Each line starts with its own entry's time.
    timeline.forEach((e, i) => expect(lines[i]!.startsWith(`${hhmm(Date.parse(e.at))} · `), `line ${i + 1}`).toBe(true));
  });

  it('actions are the status updates and notes, in order, with their authors', () => {
    expect(section(report, 'report.actions').lines).toEqual([
      `${hhmm(T0 + 10 * MIN)} · 📣 Zhang San: Portal returns 502; checking the database`,
      `${hhmm(T0 + 15 * MIN)} · 🗒️ Wang Wu: DB primary is at 100 % CPU`,
      `${hhmm(T0 + 45 * MIN)} · 📣 Li Wei: Failed over to the standby database; portal recovering`,
    ]);
  });

  it('durations match the clocks computed from the timeline: response met, resolution missed (hold excluded)', () => {
    // Independently of the SLA module: from the entries' timestamps and the P1 targets (15m / 4h).
    const when = (type: EventType) => timeline.filter((e) => e.event.type === type).map((e) => Date.parse(e.at));
    const reported = when('IncidentReported')[0]!;
    const firstAccept = when('IncidentAccepted')[0]!;
    const resolved = when('IncidentResolved')[0]!;
    const held = when('IncidentHeld');
    const resumed = when('IncidentResumed');
    const onHold = held.reduce((sum, from, i) => sum + (resumed[i]! - from), 0);
    const responseUsed = firstAccept - reported;
    const resolutionUsed = resolved - reported - onHold;
    const targets = { response: 15 * MIN, resolution: 4 * HOUR };
    const clock = (used: number, target: number) =>
      t('en', 'report.clock', { state: t('en', used <= target ? 'sla.state.met' : 'sla.state.missed'), used: humanDuration(used, 'en'), target: humanDuration(target, 'en') });

    expect(responseUsed).toBe(5 * MIN);
    expect(onHold).toBe(20 * MIN);
    expect(resolutionUsed).toBe(4 * HOUR + 10 * MIN);
    const durations = Object.fromEntries(section(report, 'report.durations').facts.map((f) => [f.label, f.value]));
    expect(durations).toEqual({
      Response: clock(responseUsed, targets.response),
      Resolution: clock(resolutionUsed, targets.resolution),
      'Report to declaration': humanDuration(when('MajorIncidentDeclared')[0]! - reported, 'en'),
      'Report to resolution': humanDuration(resolved - reported, 'en'),
      'Time on hold': humanDuration(onHold, 'en'),
      Escalations: String(when('IncidentEscalated').length),
      'Status updates': String(when('StatusUpdatePosted').length),
    });
    // As a person reads them.
    expect(durations.Response).toBe('met: 5m of 15m');
    expect(durations.Resolution).toBe('missed: 4h 10m of 4h');
    expect(durations['Report to resolution']).toBe('4h 30m');
    expect(durations['Time on hold']).toBe('20m');
    expect(durations.Escalations).toBe('1');
    expect(durations['Status updates']).toBe('2');
  });

  it('the durations of a major incident still open run to the time the report is built', () => {
    const open = buildMajorReport({ ...major, status: 'in_progress', resolvedAt: null, resolutionCode: null, resolutionNote: null }, timeline.slice(0, 5), {
      policy,
      locale: 'en',
      now: T0 + 2 * HOUR,
    });
    expect(fact(open, 'report.durations', 'report.so_far')).toBe('2h');
    expect(fact(open, 'report.durations', 'report.total')).toBeUndefined();
    expect(section(open, 'report.cause').lines).toEqual(['Not resolved yet.']);
  });

  it('participants are everyone who acted or held a role, with those roles', () => {
    expect(section(report, 'report.participants').lines).toEqual([
      'Chen Jing (Incident commander, incident manager)',
      'Gao PM (Communications lead)',
      'Li Wei (Assignee)',
      'Zhang San (Owner)',
      'Reporter A (Reporter)',
      'Wang Wu',
    ]);
  });

  it('the post-incident review has its owner (the commander) and due date', () => {
    expect(section(report, 'report.review').facts).toEqual([
      { label: 'Owner', value: 'Chen Jing' },
      { label: 'Due', value: hhmm(T0 + 270 * MIN + 5 * DAY) },
    ]);
    expect(major.major!.review).toEqual({ owner: personRef('chen.jing'), dueAt: iso(T0 + 270 * MIN + 5 * DAY) });
  });

  it('exports as Markdown: a # title, a ## heading per section in order, facts and lines as list items', () => {
    const md = reportToMarkdown(report);
    const rows = md.split('\n');
    expect(rows[0]).toBe(`# Major incident analysis report: ${major.number} Payroll is down`);
    expect(rows.filter((r) => r.startsWith('#'))).toEqual([rows[0], ...report.sections.map((s) => `## ${s.heading}`)]);
    expect(md.endsWith('\n')).toBe(true);
    expect(rows).toContain(`- **Affected system**: payroll`);
    expect(rows).toContain(`- **Resolution**: missed: 4h 10m of 4h`);
    expect(rows).toContain(`- ${hhmm(T0)} · reported by Reporter A`);
    expect(rows).toContain('- Chen Jing (Incident commander, incident manager)');
    // Every timeline line is a list item under the Timeline heading, in order.
    const start = rows.indexOf('## Timeline');
    const items = rows.slice(start + 1, rows.indexOf(`## ${t('en', 'report.cause')}`)).filter((r) => r.startsWith('- '));
    expect(items).toEqual(section(report, 'report.timeline').lines.map((l) => `- ${l}`));
    // The chat version carries the same content.
    const chat = reportToChat(report);
    expect(chat.startsWith(`*${report.title}*`)).toBe(true);
    for (const s of report.sections) expect(chat).toContain(`*${s.heading}*`);
  });

  it('in Chinese: the 《重大事件处理分析报告》 title and Chinese headings, durations and lines', () => {
    const zh = buildMajorReport(major, timeline, { policy, locale: 'zh-CN', now: T0 + 6 * HOUR });
    expect(zh.title).toBe(`重大事件处理分析报告：${major.number} Payroll is down`);
    expect(zh.sections.map((s) => s.heading)).toEqual(['事件概述', '影响', '处理时间线', '根本原因 / 临时方案', '处理措施与进展', '时效（对照 SLA）', '参与人员', '事后回顾']);
    expect(zh.sections.map((s) => s.heading)).toEqual(SECTION_KEYS.map((k) => t('zh-CN', k)));
    expect(fact(zh, 'report.durations', 'report.response', 'zh-CN')).toBe('达标：用时 5分钟，目标 15分钟');
    expect(fact(zh, 'report.durations', 'report.resolution', 'zh-CN')).toBe('未达标：用时 4小时10分钟，目标 4小时');
    const lines = section(zh, 'report.timeline', 'zh-CN').lines;
    expect(lines).toHaveLength(timeline.length);
    expect(lines[4]).toBe(`${hhmm(T0 + 5 * MIN, 'zh-CN')} · Zhang San 受理`);
    expect(lines[13]).toBe(`${hhmm(T0 + 60 * MIN, 'zh-CN')} · Li Wei 挂起：waiting for the vendor`);
    for (const line of lines) {
      expect(line).not.toMatch(/ {2}/);
      expect(line, line).not.toContain('于');
    }
    const md = reportToMarkdown(zh);
    expect(md.startsWith(`# 重大事件处理分析报告：${major.number}`)).toBe(true);
    for (const h of ['## 事件概述', '## 处理时间线', '## 时效（对照 SLA）', '## 参与人员', '## 事后回顾']) expect(md).toContain(`\n${h}\n`);
  });

  it('an SLA breach recorded on time keeps its due time in the report line', async () => {
    // The scheduler fires the breach exactly at the due time, so the entry's time and the due time are one string.
    now = T0 + DAY;
    const filed = await d.report(personRef('reporter.a'), { title: 'Mail is down', impact: 'high', urgency: 'high' }, { platform: 'slack', channel: 'C0GENERAL' });
    if (!filed.ok) throw new Error(filed.reason);
    now = T0 + DAY + 15 * MIN;
    const fired = await d.fire({ incidentId: filed.incident.id, generation: filed.incident.version, at: iso(now) });
    expect(fired.outcome === 'applied' && fired.events[0]).toMatchObject({ type: 'SlaThresholdReached', clock: 'response', threshold: 'breach', dueAt: iso(now) });
    const entries = await store.timeline(filed.incident.id);
    for (const locale of ['en', 'zh-CN'] as const) {
      const lines = section(buildMajorReport(fired.incident!, entries, { policy, locale, now }), 'report.timeline', locale).lines;
      const breach = lines[entries.findIndex((e) => e.event.type === 'SlaThresholdReached')]!;
      const due = hhmm(now, locale);
      expect(breach).toBe(locale === 'en' ? `${due} · Response target breached (due ${due})` : `${due} · 响应超时（${due} 到期）`);
    }
  });
});

// ── withoutTime over every event type ───────────────────────────────────────────────────────────

const someone: PersonRef = personRef('li.wei');
const incidentStub = { id: randomUUID(), number: 'INC-7', title: 'VPN down' } as unknown as Incident;

/** Sample events of every type (a compile error when a new type is added), given the entry's time. */
const SAMPLES: { [K in EventType]: (at: number) => Extract<EventBody, { type: K }>[] } = {
  IncidentReported: () => [{ type: 'IncidentReported', incident: incidentStub }],
  IncidentAccepted: () => [{ type: 'IncidentAccepted', assignee: someone, owner: null, firstResponse: true }],
  IncidentEscalated: () => [
    { type: 'IncidentEscalated', fromTier: 'desk', toTier: 'l1', reason: 'needs on-site visit' },
    { type: 'IncidentEscalated', fromTier: 'l1', toTier: 'l2', reason: '', matrixAfterMs: 30 * MIN },
    { type: 'IncidentEscalated', fromTier: 'desk', toTier: 'l1', reason: '', matrixAfterMs: 0 },
  ],
  IncidentReassigned: () => [
    { type: 'IncidentReassigned', fromTier: 'l1', toTier: 'l1', assignee: personRef('li.na'), reason: 'shift change' },
    { type: 'IncidentReassigned', fromTier: 'l1', toTier: 'l2', assignee: null, reason: 'database' },
  ],
  IncidentRejected: () => [{ type: 'IncidentRejected', reason: 'not an IT matter' }],
  IncidentHeld: (at) => [
    { type: 'IncidentHeld', reason: 'waiting for the user', until: null },
    { type: 'IncidentHeld', reason: 'vendor part', until: iso(at + 3 * HOUR) },
  ],
  IncidentResumed: () => [{ type: 'IncidentResumed' }],
  IncidentResolved: () => [{ type: 'IncidentResolved', code: 'fixed', note: 'restarted the gateway', tier: 'l1' }],
  ResolutionConfirmed: () => [{ type: 'ResolutionConfirmed' }],
  IncidentReopened: () => [{ type: 'IncidentReopened', reason: 'still dropping' }],
  IncidentRated: () => [{ type: 'IncidentRated', score: 4, feedback: null }],
  RequestApproved: () => [{ type: 'RequestApproved', note: null }],
  RequestDenied: () => [{ type: 'RequestDenied', reason: 'not budgeted' }],
  PriorityChanged: () => [{ type: 'PriorityChanged', from: 'P3', to: 'P1', reason: 'all staff affected' }],
  IncidentClosed: () => [{ type: 'IncidentClosed', automatic: true }],
  SlaThresholdReached: (at) => [
    { type: 'SlaThresholdReached', clock: 'response', threshold: 'warn', dueAt: iso(at + 45 * MIN), targetMs: 2 * HOUR, withWarning: false },
    // Fired on time: the entry's time is the due time.
    { type: 'SlaThresholdReached', clock: 'response', threshold: 'breach', dueAt: iso(at), targetMs: 2 * HOUR, withWarning: false },
    // Fired late (the bot was down).
    { type: 'SlaThresholdReached', clock: 'resolution', threshold: 'breach', dueAt: iso(at - 3 * HOUR), targetMs: 8 * HOUR, withWarning: true },
  ],
  EscalationStepReached: () => [
    { type: 'EscalationStepReached', step: 0, afterMs: 30 * MIN, tier: null, role: 'project_manager', escalated: false, notified: ['pm.gao'] },
    { type: 'EscalationStepReached', step: 1, afterMs: 4 * HOUR, tier: 'l1', role: null, escalated: false, notified: [] },
  ],
  MajorIncidentDeclared: () => [
    { type: 'MajorIncidentDeclared', major: null as never, automatic: true },
    { type: 'MajorIncidentDeclared', major: null as never, automatic: false },
  ],
  MajorIncidentConfirmed: () => [{ type: 'MajorIncidentConfirmed' }],
  MajorIncidentDowngraded: () => [{ type: 'MajorIncidentDowngraded', reason: 'one office only' }],
  WarRoomOpened: () => [{ type: 'WarRoomOpened', platform: 'slack', channel: 'C0ROOM', name: 'inc-7-vpn-down', invited: 5, uninvited: [] }],
  WarRoomJoinRequested: () => [{ type: 'WarRoomJoinRequested', platform: 'slack', user: 'U0L2' }],
  WarRoomMembersAdded: () => [{ type: 'WarRoomMembersAdded', platform: 'slack', names: ['Wang Wu'], uninvited: [{ name: 'Zhao Liu', error: 'user_disabled' }] }],
  WarRoomArchived: () => [{ type: 'WarRoomArchived' }],
  MajorRolesChanged: () => [{ type: 'MajorRolesChanged', commander: personRef('chen.jing'), commsLead: null }],
  StatusUpdatePosted: () => [{ type: 'StatusUpdatePosted', text: 'Gateway replaced' }],
  UpdateReminderSent: (at) => [{ type: 'UpdateReminderSent', dueAt: iso(at), reminder: 1 }],
  NoteAdded: () => [{ type: 'NoteAdded', text: 'Vendor ticket opened', author: personRef('wang.wu'), source: 'reaction', messageRef: 'slack:C0ROOM:1.2' }],
  ReportLinked: () => [{ type: 'ReportLinked', incidentId: randomUUID(), number: 'INC-8', reporter: guestRef(), automatic: true }],
  LinkedToMajor: () => [{ type: 'LinkedToMajor', majorId: randomUUID(), number: 'INC-7', title: 'VPN down', automatic: true }],
  ReviewScheduled: (at) => [{ type: 'ReviewScheduled', owner: personRef('chen.jing'), dueAt: iso(at + 5 * DAY) }],
  DeliveryFailed: () => [
    { type: 'DeliveryFailed', platform: 'slack', what: 'card.sync', purpose: 'queue:desk', attempts: 8, error: 'channel_not_found' },
    { type: 'DeliveryFailed', platform: 'feishu', what: 'message.send', purpose: null, attempts: 64, error: 'Feishu 99991400: request trigger frequency limit' },
  ],
};

/** Templates without a `{time}` slot: nothing to take out. */
const TIMELESS = new Set<EventType>(['ReviewScheduled']);
const occurrences = (text: string, part: string) => text.split(part).length - 1;

describe('withoutTime', () => {
  const cases = (Object.keys(SAMPLES) as EventType[]).flatMap((type) =>
    SAMPLES[type](0).flatMap((_, variant) => (['en', 'zh-CN'] as const).map((locale) => [type, variant + 1, locale] as const)),
  );

  it.each(cases)('%s #%i (%s): the outcome line loses its own time and nothing else, leaving no gap or dangling 于', (type, variant, locale) => {
    fc.assert(
      fc.property(
        // Any minute within a few years, whatever the day, month and hour look like.
        fc.integer({ min: Date.parse('2025-01-01T00:00:00Z') / MIN, max: Date.parse('2030-12-31T23:59:00Z') / MIN }),
        fc.constantFrom<TestPersonKey | 'system'>('li.wei', 'zhang.san', 'system'),
        (minute, who) => {
          const atMs = minute * MIN;
          const event = SAMPLES[type](atMs)[variant - 1]!;
          const entry: TimelineEntry = {
            incidentId: incidentStub.id,
            seq: 2,
            at: iso(atMs),
            actor: who === 'system' ? { kind: 'system', reason: 'timer' } : personActor(personRef(who)),
            platform: who === 'system' ? 'system' : 'slack',
            automatic: who === 'system',
            event,
            status: 'in_progress',
          };
          const time = formatTime(entry.at, locale, TEST_TIME_ZONE);
          const line = outcomeLine(entry, { policy, locale });
          const out = withoutTime(line, time);
          const detail = JSON.stringify({ line, out });
          // Exactly the entry's own time is taken out; a due or until time stays (even when it reads the same).
          expect(occurrences(out, time), detail).toBe(occurrences(line, time) - (TIMELESS.has(type) ? 0 : 1));
          expect(out, detail).not.toMatch(/\s{2}/);
          expect(out, detail).toBe(out.trim());
          expect(out, detail).not.toMatch(/\s[:：,，)）]|[(（]\s|\(\)|（）/);
          if (locale === 'zh-CN') expect(out, detail).not.toContain('于');
          expect(out.length, detail).toBeGreaterThan(0);
        },
      ),
      { numRuns: 40 },
    );
  });
});
