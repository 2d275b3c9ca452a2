/**
 * DingTalk rendering of real Firebell cards, forms and replies, in English and Chinese: the card
 * template's string-only parameters and their button JSON, the robot ActionCard fallback whose
 * dtmd links type the commands the parser reads back, the five-button ceiling, form instructions,
 * text replies, markdown injection and the size limits (cut with warnings, never a throw).
 */
import { describe, expect, it } from 'vitest';
import {
  DINGTALK_LIMITS,
  dtmdSendMessageUrl,
  escapeDingTalkMarkdown,
  renderActionCard,
  renderCardParams,
  renderFormText,
  renderText,
  typedCommand,
  type DingTalkCardButton,
} from '../../src/adapters/dingtalk/render';
import { parseCommand } from '../../src/flows/commands/parse';
import { ACTION_IDS, decodeButtonValue, encodeButtonValue, type ActionId, type CardButton, type NeutralCard } from '../../src/flows/messages/card';
import { buildIncidentCard } from '../../src/flows/messages/cards';
import { t } from '../../src/flows/messages/catalog';
import { actionForm, reportForm } from '../../src/flows/messages/forms';
import type { Actor } from '../../src/flows/incident/events';
import type { Locale } from '../../src/flows/policy/policy';
import { personRef, testPolicy } from '../support/policy';
import { INCIDENT_ID, as, at, cmd, report, run } from '../flows/fixtures';

const policy = testPolicy();
const LOCALES: Locale[] = ['en', 'zh-CN'];
const reporter: Actor = { kind: 'person', person: personRef('reporter.a') };
const ctx = (locale: Locale) => ({ policy, locale, now: Date.parse(at(40)) });
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** The content a dtmd sendMessage link makes the client send. */
function dtmdContent(url: string): string {
  const prefix = 'dtmd://dingtalkclient/sendMessage?content=';
  expect(url.startsWith(prefix)).toBe(true);
  return decodeURIComponent(url.slice(prefix.length));
}

/** The robot message's buttons in order, as [title, url], whatever the template. */
function robotButtons(r: { msgKey: string; msgParam: Record<string, string> }): [string, string][] {
  if (r.msgKey === 'sampleActionCard') return [[r.msgParam.singleTitle!, r.msgParam.singleURL!]];
  const out: [string, string][] = [];
  for (let i = 1; r.msgParam[`actionTitle${i}`] !== undefined; i++) out.push([r.msgParam[`actionTitle${i}`]!, r.msgParam[`actionURL${i}`]!]);
  return out;
}

/** A short button label per action (`accept`, `declare_major`). */
const labelOf = (id: ActionId) => id.split('.')[1]!;

function button(actionId: ActionId, arg?: string, style: CardButton['style'] = 'default'): CardButton {
  return { actionId, label: labelOf(actionId), value: encodeButtonValue(arg ? { incidentId: INCIDENT_ID, version: 3, arg } : { incidentId: INCIDENT_ID, version: 3 }), style };
}

function syntheticCard(over: Partial<NeutralCard> = {}): NeutralCard {
  return {
    number: 'INC-12',
    fallback: 'INC-12 · VPN down [New]',
    title: 'INC-12 · VPN down',
    body: 'The VPN drops every few minutes.',
    fields: [{ label: 'Priority', value: 'P2 High' }],
    context: ['Accepted by Li Wei 10:42'],
    buttons: [],
    outcome: null,
    accent: 'high',
    ...over,
  };
}

/** What each action's typed command should be, per locale (the brief's table). */
const EXPECTED: Record<Locale, Partial<Record<ActionId, string>>> = {
  'zh-CN': {
    'incident.accept': '受理 INC-12',
    'incident.escalate': '升级 INC-12',
    'incident.resolve': '解决 INC-12',
    'incident.reject': '驳回 INC-12',
    'incident.reopen': '重开 INC-12',
    'incident.hold': '挂起 INC-12',
    'incident.resume': '恢复 INC-12',
    'incident.confirm': '确认 INC-12',
    'incident.rate': '评分 INC-12 5',
    'request.approve': '批准 INC-12',
    'request.deny': '拒绝 INC-12',
    'war_room.join': '加入 INC-12',
    'incident.reassign': '转派 INC-12',
    'incident.declare_major': '重大 INC-12',
    'war_room.update': '进展 INC-12',
    'major.confirm': '确认重大 INC-12',
    'major.downgrade': '降级 INC-12',
  },
  en: {
    'incident.accept': 'accept INC-12',
    'incident.escalate': 'escalate INC-12',
    'incident.resolve': 'resolve INC-12',
    'incident.reject': 'reject INC-12',
    'incident.reopen': 'reopen INC-12',
    'incident.hold': 'hold INC-12',
    'incident.resume': 'resume INC-12',
    'incident.confirm': 'confirm INC-12',
    'incident.rate': 'rate INC-12 5',
    'request.approve': 'approve INC-12',
    'request.deny': 'deny INC-12',
    'war_room.join': 'join INC-12',
    'incident.reassign': 'reassign INC-12',
    'incident.declare_major': 'major INC-12',
    'war_room.update': 'update INC-12',
    'major.confirm': 'confirm-major INC-12',
    'major.downgrade': 'downgrade INC-12',
  },
};

/** The parser reads a typed command back to the action it stands for. */
function expectParsesTo(command: string, actionId: ActionId) {
  const parsed = parseCommand(command);
  if (actionId === 'incident.declare_major') expect(parsed).toEqual({ kind: 'major', number: 'INC-12', text: '' });
  // Without its text, an update is answered with how to post one.
  else if (actionId === 'war_room.update') expect(parsed).toMatchObject({ kind: 'error', key: 'command.update_usage' });
  else expect(parsed).toMatchObject({ kind: 'act', action: actionId, number: 'INC-12' });
}

describe('typedCommand', () => {
  it.each(LOCALES)('gives every action but roles its typed form (%s), which the parser reads back', (locale) => {
    for (const id of ACTION_IDS) {
      const command = typedCommand(id, 'INC-12', id === 'incident.rate' ? '5' : undefined, locale);
      if (id === 'war_room.roles') {
        expect(command).toBeNull();
        continue;
      }
      expect(command).toBe(EXPECTED[locale][id]);
      expectParsesTo(command!, id);
    }
    expect(parseCommand(typedCommand('incident.rate', 'INC-12', '5', locale)!)).toMatchObject({ kind: 'act', action: 'incident.rate', text: '5' });
  });

  it('normalises the number and refuses what is not one; keeps only a 1-5 score', () => {
    expect(typedCommand('incident.accept', '#12', undefined, 'en')).toBe('accept INC-12');
    expect(typedCommand('incident.accept', 'inc-12', undefined, 'zh-CN')).toBe('受理 INC-12');
    expect(typedCommand('incident.accept', '', undefined, 'en')).toBeNull();
    expect(typedCommand('incident.accept', 'INC-12 x', undefined, 'en')).toBeNull();
    expect(typedCommand('incident.rate', 'INC-12', undefined, 'en')).toBe('rate INC-12');
    expect(typedCommand('incident.rate', 'INC-12', '9', 'en')).toBe('rate INC-12');
    expect(typedCommand('incident.rate', 'INC-12', '5 and more', 'zh-CN')).toBe('评分 INC-12');
    expect(typedCommand('war_room.roles', 'INC-12', undefined, 'zh-CN')).toBeNull();
  });
});

describe.each(LOCALES)('interactive card parameters (%s)', (locale) => {
  const sep = t(locale, 'dingtalk.field_separator');

  it('gives every template key a string value', () => {
    const card = buildIncidentCard(report({ system: 'Payroll' }, { policy }), 'queue:desk', null, ctx(locale));
    const { params, warnings } = renderCardParams(card, { locale });
    expect(warnings).toEqual([]);
    expect(Object.keys(params).sort()).toEqual(['accent', 'buttons', 'color', 'hasButtons', 'markdown', 'outcome', 'summary', 'title'].sort());
    for (const v of Object.values(params)) expect(typeof v).toBe('string');
    expect(params.title).toBe(card.title);
    expect(params.summary).toBe(card.fallback);
    expect(params.accent).toBe(card.accent);
    expect(params.color).toMatch(/^#[0-9A-F]{6}$/);
    expect(params.hasButtons).toBe('true');
    expect(params.outcome).toBe('');
    const colours = new Set((['critical', 'high', 'medium', 'low', 'done'] as const).map((accent) => renderCardParams({ ...card, accent }, { locale }).params.color));
    expect(colours.size).toBe(5);
  });

  it('lists the buttons as JSON that round-trips to the neutral actions and values', () => {
    const card = buildIncidentCard(report({}, { policy }), 'queue:desk', null, ctx(locale));
    const back = JSON.parse(renderCardParams(card, { locale }).params.buttons!) as DingTalkCardButton[];
    expect(back).toEqual(
      card.buttons.map((b) => ({ text: b.label, style: b.style === 'default' ? 'normal' : b.style, action: b.actionId, value: b.value })),
    );
    for (const b of back) expect(decodeButtonValue(b.value)).toEqual({ incidentId: INCIDENT_ID, version: 1 });
    expect(back.map((b) => b.style)).toEqual(['primary', 'normal', 'danger', 'danger']);
  });

  it('writes the body, the fields as bold-label lines, the context and the outcome as markdown', () => {
    let s = report({ description: 'Line one\nLine two' }, { policy });
    s = run(s, cmd.accept, as('zhang.san'), at(1), policy);
    const live = buildIncidentCard(s, 'queue:desk', null, ctx(locale));
    const md = renderCardParams({ ...live, context: ['Accepted by Li Wei 10:42'] }, { locale }).params.markdown!;
    expect(md).toContain('Line one  \nLine two');
    for (const f of live.fields) expect(md).toContain(`**${escapeDingTalkMarkdown(f.label)}**${sep}`);
    expect(md).toContain('Accepted by Li Wei 10:42');

    s = run(s, cmd.resolve(), as('zhang.san'), at(2), policy);
    s = run(s, cmd.confirm, reporter, at(3), policy);
    const decided = buildIncidentCard(s, 'queue:desk', null, ctx(locale));
    expect(decided.buttons).toEqual([]);
    const withOutcome = { ...decided, outcome: 'Closed by Li Wei' };
    const { params } = renderCardParams(withOutcome, { locale });
    expect(params.hasButtons).toBe('false');
    expect(params.buttons).toBe('[]');
    expect(params.outcome).toBe('Closed by Li Wei');
    expect(params.markdown!.endsWith('**Closed by Li Wei**')).toBe(true);
  });

  it('turns catalog bold into markdown bold, references into plain text, and escapes user markup', () => {
    const card = syntheticCard({
      title: '*INC-12* [x](dtmd://dingtalkclient/sendMessage?content=deny)',
      body: 'See *this* with <@U0L1|li.wei> in <#C0DESK|desk>\n# not a heading\n[click](dtmd://dingtalkclient/sendMessage?content=approve)\n<font color=red>x</font>',
      fields: [{ label: 'A*b', value: '2*3*4 > 1' }],
    });
    const { params } = renderCardParams(card, { locale });
    expect(params.title).toBe('INC-12 [x](dtmd://dingtalkclient/sendMessage?content=deny)');
    const md = params.markdown!;
    expect(md).toContain('See **this** with @li.wei in #desk');
    expect(md).not.toMatch(/^#/m);
    expect(md).not.toContain('](dtmd');
    expect(md).not.toContain('<font');
    expect(md).toContain('**A∗b**');
    expect(md).toContain('2∗3∗4 > 1');
  });

  it('cuts a huge card to the value budget with warnings and never throws', () => {
    const huge = syntheticCard({
      title: '标题'.repeat(500),
      fallback: 'x'.repeat(1000),
      body: '很长的描述'.repeat(200_000),
      fields: Array.from({ length: 40 }, (_, i) => ({ label: `字段${i}`, value: '值'.repeat(2000) })),
      context: Array.from({ length: 30 }, () => '上下文'.repeat(400)),
      buttons: Array.from({ length: 15 }, () => button('incident.accept', undefined, 'primary')),
      outcome: '结果'.repeat(5000),
    });
    const { params, warnings } = renderCardParams(huge, { locale });
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.some((w) => w.startsWith('body'))).toBe(true);
    expect(warnings).toContain(`buttons cut to ${DINGTALK_LIMITS.cardButtons}`);
    for (const v of Object.values(params)) {
      expect(typeof v).toBe('string');
      expect(bytes(v)).toBeLessThanOrEqual(DINGTALK_LIMITS.cardValueBytes);
    }
    expect(JSON.parse(params.buttons!)).toHaveLength(DINGTALK_LIMITS.cardButtons);
    // A body that fits after trimming is marked as shortened.
    const longBody = renderCardParams(syntheticCard({ body: '描述'.repeat(3000) }), { locale });
    expect(longBody.params.markdown).toContain(t(locale, 'dingtalk.shortened'));
    expect(longBody.params.markdown).toContain('**Priority**');
    expect(bytes(longBody.params.markdown!)).toBeLessThanOrEqual(DINGTALK_LIMITS.cardValueBytes);
    // Odd input still renders.
    expect(() => renderCardParams(syntheticCard({ title: '', body: '', fields: [], context: [], fallback: '' }), { locale })).not.toThrow();
  });
});

describe.each(LOCALES)('robot ActionCard fallback (%s)', (locale) => {
  it('makes each action a dtmd link that types its command, for every action id', () => {
    for (const id of ACTION_IDS) {
      const r = renderActionCard(syntheticCard({ buttons: [button(id, id === 'incident.rate' ? '5' : undefined)] }), { locale });
      if (id === 'war_room.roles') {
        expect(r.msgKey).toBe('sampleMarkdown');
        expect(r.warnings).toEqual(['war_room.roles: no typed form on DingTalk; button left out']);
        continue;
      }
      expect(r.warnings).toEqual([]);
      expect(r.msgKey).toBe('sampleActionCard');
      expect(r.msgParam.singleTitle).toBe(labelOf(id));
      const command = dtmdContent(r.msgParam.singleURL!);
      expect(command).toBe(EXPECTED[locale][id]);
      expectParsesTo(command, id);
    }
  });

  it('picks the template by the number of buttons: markdown, single, 2 to 5 stacked', () => {
    const ids: ActionId[] = ['incident.accept', 'incident.resolve', 'incident.reject', 'incident.declare_major', 'incident.escalate'];
    expect(renderActionCard(syntheticCard(), { locale }).msgKey).toBe('sampleMarkdown');
    for (let n = 1; n <= 5; n++) {
      const r = renderActionCard(syntheticCard({ buttons: ids.slice(0, n).map((id) => button(id)) }), { locale });
      expect(r.msgKey).toBe(n === 1 ? 'sampleActionCard' : `sampleActionCard${n}`);
      const shown = robotButtons(r);
      expect(shown.map(([title]) => title)).toEqual(ids.slice(0, n).map(labelOf));
      expect(shown.map(([, url]) => dtmdContent(url))).toEqual(ids.slice(0, n).map((id) => EXPECTED[locale][id]));
      for (const v of Object.values(r.msgParam)) expect(typeof v).toBe('string');
      expect(Object.keys(r.msgParam)).toEqual(
        n === 1 ? ['title', 'text', 'singleTitle', 'singleURL'] : ['title', 'text', ...Array.from({ length: n }, (_, i) => [`actionTitle${i + 1}`, `actionURL${i + 1}`]).flat()],
      );
    }
  });

  it('keeps five of seven buttons with a warning, and lists all seven commands under the text', () => {
    const ids: ActionId[] = ['incident.accept', 'incident.resolve', 'incident.reject', 'incident.declare_major', 'incident.escalate', 'incident.hold', 'incident.reassign'];
    const r = renderActionCard(syntheticCard({ buttons: ids.map((id) => button(id)) }), { locale });
    expect(r.msgKey).toBe('sampleActionCard5');
    expect(robotButtons(r)).toHaveLength(5);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^buttons cut to 5/);
    const lastLine = r.msgParam.text!.split('\n').at(-1)!;
    const listed = [...lastLine.matchAll(/\]\((dtmd:[^)]+)\)/g)].map((m) => dtmdContent(m[1]!));
    expect(listed).toEqual(ids.map((id) => EXPECTED[locale][id]));
    const intro = t(locale, 'dingtalk.typed_commands').split('{commands}')[0]!;
    expect(lastLine.startsWith(intro)).toBe(true);
    expect(lastLine).toContain(`[${EXPECTED[locale]['incident.accept']}](`);
  });

  it('drops the roles button with a warning and keeps the others', () => {
    const r = renderActionCard(syntheticCard({ buttons: [button('war_room.update', undefined, 'primary'), button('war_room.roles')] }), { locale });
    expect(r.msgKey).toBe('sampleActionCard');
    expect(dtmdContent(r.msgParam.singleURL!)).toBe(EXPECTED[locale]['war_room.update']);
    expect(r.warnings).toEqual(['war_room.roles: no typed form on DingTalk; button left out']);
  });

  it('keeps the rating buttons apart by their score', () => {
    let s = report({}, { policy });
    s = run(s, cmd.accept, as('zhang.san'), at(1), policy);
    s = run(s, cmd.resolve(), as('zhang.san'), at(2), policy);
    s = run(s, cmd.confirm, reporter, at(3), policy);
    const card = buildIncidentCard(s, 'reporter', null, ctx(locale));
    expect(card.buttons).toHaveLength(5);
    const r = renderActionCard(card, { locale });
    expect(r.msgKey).toBe('sampleActionCard5');
    const verb = locale === 'en' ? 'rate' : '评分';
    expect(robotButtons(r).map(([title, url]) => [title, dtmdContent(url)])).toEqual(
      [1, 2, 3, 4, 5].map((n) => [t(locale, 'button.incident.rate', { score: n }), `${verb} ${card.number} ${n}`]),
    );
  });

  it('repeats the title as a heading, keeps the chat-list title short, shows a decided outcome', () => {
    const r = renderActionCard(syntheticCard({ title: `INC-12 · ${'很长的标题'.repeat(30)}` }), { locale });
    expect([...r.msgParam.title!]).toHaveLength(DINGTALK_LIMITS.robotTitle);
    expect(r.msgParam.text!.startsWith('### 🟠 INC-12 · 很长的标题')).toBe(true);
    const decided = renderActionCard(syntheticCard({ accent: 'done', outcome: 'Confirmed fixed by Reporter A; closed' }), { locale });
    expect(decided.msgKey).toBe('sampleMarkdown');
    expect(decided.msgParam.text).toContain('**Confirmed fixed by Reporter A; closed**');
    expect(decided.msgParam.text!.startsWith('### ✅')).toBe(true);
    expect(decided.msgParam.text).not.toContain('dtmd:');
  });

  it('leaves the buttons out of a card without an incident number', () => {
    const r = renderActionCard(syntheticCard({ number: undefined, buttons: [button('incident.accept')] }), { locale });
    expect(r.msgKey).toBe('sampleMarkdown');
    expect(r.warnings).toEqual(['card has no incident number: its buttons cannot be typed and are left out']);
  });

  it('puts the configured prefix before every command', () => {
    const r = renderActionCard(syntheticCard({ buttons: [button('incident.accept'), button('incident.reject')] }), { locale, commandPrefix: '@Firebell ' });
    expect(robotButtons(r).map(([, url]) => dtmdContent(url))).toEqual([`@Firebell ${EXPECTED[locale]['incident.accept']}`, `@Firebell ${EXPECTED[locale]['incident.reject']}`]);
  });

  it('stays under the 15,000-byte msgParam limit with warnings, never throwing', () => {
    const huge = syntheticCard({
      body: '描述'.repeat(500_000),
      fields: Array.from({ length: 60 }, (_, i) => ({ label: `字段${i}`, value: '值'.repeat(2000) })),
      context: Array.from({ length: 30 }, () => '上下文'.repeat(400)),
      buttons: ACTION_IDS.map((id) => button(id, '5')),
      outcome: '结果'.repeat(5000),
    });
    const r = renderActionCard(huge, { locale });
    expect(bytes(JSON.stringify(r.msgParam))).toBeLessThanOrEqual(DINGTALK_LIMITS.msgParamBytes);
    expect(r.warnings.some((w) => w.startsWith('body'))).toBe(true);
    expect(r.warnings.some((w) => w.startsWith('buttons cut to 5'))).toBe(true);
    expect(r.msgKey).toBe('sampleActionCard5');
    for (const v of Object.values(r.msgParam)) expect(typeof v).toBe('string');
    // The typed commands line survives the trimming.
    expect(r.msgParam.text!.split('\n').at(-1)).toContain('dtmd://');
  });
});

describe.each(LOCALES)('forms as typed instructions (%s)', (locale) => {
  const incident = report({}, { policy });

  it('tells what to type for each action form, in a form the parser reads', () => {
    const args = { en: { reason: '<reason>' }, 'zh-CN': { reason: '<原因>' } }[locale];
    for (const id of ['incident.escalate', 'incident.reject', 'incident.reopen', 'incident.hold', 'request.deny', 'major.downgrade'] as ActionId[]) {
      const form = actionForm(id, incident, locale, policy)!;
      const text = renderFormText(form, incident.number, locale);
      const command = `${EXPECTED[locale][id]!.replace('INC-12', incident.number)} ${args.reason}`;
      const expected = locale === 'zh-CN' ? `${form.title}：请回复「${command}」` : `${form.title}: reply "${command}"`;
      expect(text.split('\n')[0]).toBe(expected);
      expect(text.split('\n').at(-1)).toBe(t(locale, 'dingtalk.group_hint'));
      expect(parseCommand(command)).toMatchObject({ kind: 'act', action: id, number: incident.number, text: args.reason });
    }
    if (locale === 'zh-CN') {
      const form = actionForm('incident.escalate', { ...incident, number: 'INC-12' }, locale, policy)!;
      expect(renderFormText(form, 'INC-12', locale).split('\n')[0]).toBe('升级 INC-12：请回复「升级 INC-12 <原因>」');
    }
  });

  it('lists the resolution codes, and the tiers and people to reassign to', () => {
    const resolve = renderFormText(actionForm('incident.resolve', incident, locale, policy)!, incident.number, locale);
    expect(resolve.split('\n')[0]).toContain(locale === 'zh-CN' ? `解决 ${incident.number} [代码] <说明>` : `resolve ${incident.number} [code] <note>`);
    for (const code of ['fixed', 'workaround', 'config_change', 'user_guidance', 'vendor_fix', 'no_fault_found', 'duplicate']) {
      expect(resolve).toContain(locale === 'zh-CN' ? `${code}（${t(locale, `code.${code}` as never)}）` : `${code} (${t(locale, `code.${code}` as never)})`);
    }
    const reassign = renderFormText(actionForm('incident.reassign', incident, locale, policy)!, incident.number, locale);
    expect(reassign.split('\n')[0]).toContain(locale === 'zh-CN' ? `转派 ${incident.number} <层级或人员> <原因>` : `reassign ${incident.number} <tier or person> <reason>`);
    for (const tier of ['desk', 'l1', 'l2', 'l3']) expect(reassign).toContain(tier);
    expect(reassign).toContain('li.wei');
    expect(reassign).not.toContain('l1:li.wei');
    const update = renderFormText(actionForm('war_room.update', incident, locale, policy)!, incident.number, locale);
    expect(update.split('\n')[0]).toContain(locale === 'zh-CN' ? `进展 ${incident.number} <内容>` : `update ${incident.number} <text>`);
  });

  it('explains the report command, and says when a form cannot be typed', () => {
    const text = renderFormText(reportForm(locale, policy), null, locale);
    expect(text).toContain(locale === 'zh-CN' ? '请回复「报障 <问题描述>」' : 'reply "report <what is wrong>"');
    expect(parseCommand(locale === 'zh-CN' ? '报障 打印机坏了' : 'report printer broken')).toMatchObject({ kind: 'report' });
    const roles = actionForm('war_room.roles', incident, locale, policy)!;
    expect(renderFormText(roles, incident.number, locale)).toBe(t(locale, 'dingtalk.form.unsupported').replace('{title}', roles.title));
    // Without a number the command shows a placeholder.
    expect(renderFormText(actionForm('incident.escalate', incident, locale, policy)!, null, locale)).toContain(t(locale, 'dingtalk.arg.number'));
  });
});

describe('text replies', () => {
  it('sends one-line replies as plain text with bold markers dropped and references plain', () => {
    expect(renderText('You accepted *INC-12*, see <#C0DESK|desk> with <@U0L1>.')).toEqual({
      msgKey: 'sampleText',
      msgParam: { content: 'You accepted INC-12, see #desk with @U0L1.' },
    });
    expect(renderText('2*3*4 and **kept**').msgParam.content).toBe('2*3*4 and **kept**');
  });

  it.each(LOCALES)('sends a headed multi-line reply as markdown (%s)', (locale) => {
    const help = t(locale, 'command.help', { command: '' });
    const r = renderText(help);
    expect(r.msgKey).toBe('sampleMarkdown');
    const heading = help.split('\n')[0]!.replace(/\*/g, '');
    expect(r.msgParam.title).toBe(heading);
    expect(r.msgParam.text!.startsWith(`**${heading}**  \n`)).toBe(true);
    expect(r.msgParam.text!.split('  \n')).toHaveLength(help.split('\n').length);
    // Placeholders like <what is wrong> are not read as tags.
    expect(r.msgParam.text).not.toMatch(/<[A-Za-z]/);
    // Multi-line text without a heading stays text.
    expect(renderText('line one\nline two').msgKey).toBe('sampleText');
  });

  it('stays under the msgParam limit, never throwing', () => {
    const text = renderText('很长'.repeat(100_000));
    expect(text.msgKey).toBe('sampleText');
    expect(bytes(JSON.stringify(text.msgParam))).toBeLessThanOrEqual(DINGTALK_LIMITS.msgParamBytes);
    expect(text.msgParam.content!.endsWith('…')).toBe(true);
    const md = renderText(`*Heading*\n${'行'.repeat(100_000)}`);
    expect(md.msgKey).toBe('sampleMarkdown');
    expect(bytes(JSON.stringify(md.msgParam))).toBeLessThanOrEqual(DINGTALK_LIMITS.msgParamBytes);
    expect(() => renderText('')).not.toThrow();
  });
});

describe('helpers', () => {

  it('encodes dtmd content whole, so it cannot close a markdown link', () => {
    const url = dtmdSendMessageUrl("a (b) c's *d*! 受理");
    expect(url).not.toMatch(/[()'!* ]/);
    expect(dtmdContent(url)).toBe("a (b) c's *d*! 受理");
  });

  it('makes markdown syntax inert without losing the text', () => {
    const raw = '# h\n> q\n- l\n1. n\n**b** [t](u) ![](i) <font color=red>x</font> __u__ ~~s~~ ```c```';
    const out = escapeDingTalkMarkdown(raw);
    expect(out.replace(/\u200b/g, '').replace(/\u2217/g, '*')).toBe(raw);
    expect(out).not.toMatch(/^[#>-]|^\d+\./m);
    expect(out).not.toMatch(/\*|\]\(|<[a-z]|__|~~|``/);
  });
});
