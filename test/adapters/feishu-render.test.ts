/**
 * Feishu card JSON 2.0 rendering of real Firebell cards and forms, in English and Chinese: header
 * colours, every field, buttons whose callback values read back to what the flows encoded, decided
 * cards, markdown injection, the 30 KB limit, form round trips and refused callbacks.
 */
import { describe, expect, it } from 'vitest';
import {
  FORM_CANCEL_ACTION,
  FORM_NAME,
  FORM_SUBMIT_ACTION,
  cardRequestBytes,
  countComponents,
  decodeCallbackValue,
  escapeFeishuMarkdown,
  readFormValues,
  renderCard,
  renderForm,
  renderText,
  type FeishuCard,
} from '../../src/adapters/feishu/render';
import { FEISHU_LIMITS } from '../../src/adapters/feishu/limits';
import type { FormContext } from '../../src/flows/interactions';
import { decodeButtonValue, encodeButtonValue, type NeutralCard } from '../../src/flows/messages/card';
import { buildIncidentCard } from '../../src/flows/messages/cards';
import { actionForm, commandFromForm, reportForm, reportFromForm } from '../../src/flows/messages/forms';
import type { Actor, TimelineEntry } from '../../src/flows/incident/events';
import type { Command } from '../../src/flows/incident/commands';
import type { Incident } from '../../src/flows/incident/model';
import type { Locale } from '../../src/flows/policy/policy';
import { personRef, testPolicy } from '../support/policy';
import { INCIDENT_ID, SYSTEM, as, at, cmd, report, run, step } from '../flows/fixtures';

type El = Record<string, any>;

const policy = testPolicy({ major_incidents: { update_every: '30m', archive_after: '2d', review_due_after: '3d' } });
const LOCALES: Locale[] = ['en', 'zh-CN'];
const reporter: Actor = { kind: 'person', person: personRef('reporter.a') };

/** Every component of a card (depth first), so tests can find them wherever they sit. */
function all(value: unknown): El[] {
  if (Array.isArray(value)) return value.flatMap(all);
  if (!value || typeof value !== 'object') return [];
  const own = 'tag' in value ? [value as El] : [];
  return [...own, ...Object.values(value).flatMap(all)];
}
const byTag = (card: FeishuCard, tag: string) => all(card.body).filter((e) => e.tag === tag);
const markdownText = (card: FeishuCard) => byTag(card, 'markdown').map((m) => String(m.content)).join('\n');

/** Runs a command and returns the new state with its timeline entry, as the dispatcher records it. */
function act(state: Incident, command: Command, actor: Actor, minute: number): { state: Incident; last: TimelineEntry } {
  const r = step(state, command, actor, at(minute), policy);
  if (!r.ok) throw new Error(`${command.type} refused`);
  const event = r.events[r.events.length - 1]!;
  const last: TimelineEntry = {
    incidentId: state.id,
    seq: r.state.version,
    at: at(minute),
    actor,
    platform: actor.kind === 'system' ? 'system' : actor.person.platform,
    automatic: actor.kind === 'system',
    event,
    status: r.state.status,
  };
  return { state: r.state, last };
}

const ctx = (locale: Locale, minute = 40) => ({ policy, locale, now: Date.parse(at(minute)) });

/** A busy incident: a system, accepted, moved to L1, resolved, confirmed and rated (closed). */
function closedIncident(): { state: Incident; last: TimelineEntry } {
  let s = report({ system: 'Payroll', location: 'HQ 3F' }, { policy });
  s = run(s, cmd.accept, as('zhang.san'), at(1), policy);
  s = run(s, { type: 'ReassignIncident', toTier: 'l1', toPerson: 'li.wei', reason: 'network' }, as('zhang.san'), at(2), policy);
  s = run(s, cmd.resolve('replaced the cable'), as('li.wei'), at(30), policy);
  s = run(s, cmd.confirm, reporter, at(31), policy);
  return act(s, cmd.rate(4), reporter, 32);
}

describe.each(LOCALES)('Feishu card rendering (%s)', (locale) => {
  it('has a JSON 2.0 shared card with the title in the header, coloured by accent', () => {
    const card = buildIncidentCard(report({}, { policy }), 'queue:desk', null, ctx(locale));
    const { card: out, fallbackText, warnings } = renderCard(card, { locale });
    expect(out.schema).toBe('2.0');
    expect(out.config).toMatchObject({ update_multi: true });
    expect(out.header).toEqual({ title: { tag: 'plain_text', content: card.title }, template: 'yellow' });
    expect(fallbackText).toBe(card.fallback);
    expect(fallbackText).not.toContain('\n');
    expect(warnings).toEqual([]);
    const colours = { critical: 'red', high: 'orange', medium: 'yellow', low: 'grey', done: 'green' } as const;
    for (const [accent, template] of Object.entries(colours)) {
      expect(renderCard({ ...card, accent: accent as NeutralCard['accent'] }).card.header).toMatchObject({ template });
    }
    // A closed incident's card is green.
    const closed = closedIncident();
    expect(renderCard(buildIncidentCard(closed.state, 'queue:l1', closed.last, ctx(locale)), { locale }).card.header).toMatchObject({ template: 'green' });
  });

  it('shows every field, two to a row, label in bold above the value', () => {
    const { state, last } = closedIncident();
    const card = buildIncidentCard(state, 'queue:l1', last, ctx(locale));
    expect(card.fields.length).toBeGreaterThan(10);
    const { card: out, warnings } = renderCard(card, { locale });
    const rows = byTag(out, 'column_set').filter((s) => s.flex_mode === 'none');
    expect(rows).toHaveLength(Math.ceil(card.fields.length / 2));
    for (const row of rows) expect(row.columns).toHaveLength(2);
    const cells = rows.flatMap((r) => r.columns.flatMap((c: El) => c.elements.map((e: El) => e.content as string)));
    expect(cells).toEqual(card.fields.map((f) => `**${escapeFeishuMarkdown(f.label)}**\n${escapeFeishuMarkdown(f.value)}`));
    expect(warnings).toEqual([]);
  });

  it("gives a live queue card's buttons callback values that read back to what the flows encoded", () => {
    const incident = report({}, { policy });
    const card = buildIncidentCard(incident, 'queue:desk', null, ctx(locale));
    expect(card.buttons.map((b) => b.actionId)).toEqual(['incident.accept', 'incident.resolve', 'incident.reject', 'incident.declare_major']);
    const { card: out } = renderCard(card, { locale });
    const buttons = byTag(out, 'button');
    expect(buttons).toHaveLength(card.buttons.length);
    buttons.forEach((b, i) => {
      const neutral = card.buttons[i]!;
      expect(b.text).toEqual({ tag: 'plain_text', content: neutral.label });
      expect(b.type).toBe(neutral.style);
      expect(b.behaviors).toHaveLength(1);
      expect(b.behaviors[0].type).toBe('callback');
      // Feishu hands the value back as `action.value`, after a JSON trip.
      const back = decodeCallbackValue(JSON.parse(JSON.stringify(b.behaviors[0].value)));
      expect(back).toEqual({ actionId: neutral.actionId, value: neutral.value });
      expect(neutral.value).toBe(encodeButtonValue({ incidentId: INCIDENT_ID, version: incident.version }));
      expect(decodeButtonValue((back as { value: string }).value)).toEqual({ incidentId: INCIDENT_ID, version: incident.version });
    });
    // The last outcome shows as a small grey context line while the card is live.
    const accepted = act(incident, cmd.accept, as('zhang.san'), 1);
    const live = buildIncidentCard(accepted.state, 'queue:desk', accepted.last, ctx(locale));
    const notation = byTag(renderCard(live, { locale }).card, 'markdown').find((m) => m.text_size === 'notation');
    expect(notation?.content).toBe(`<font color='grey'>${escapeFeishuMarkdown(live.context[0]!)}</font>`);
  });

  it('keeps the rating buttons apart by their argument', () => {
    let s = report({}, { policy });
    s = run(s, cmd.accept, as('zhang.san'), at(1), policy);
    s = run(s, cmd.resolve(), as('zhang.san'), at(2), policy);
    const closed = act(s, cmd.confirm, reporter, 3);
    const card = buildIncidentCard(closed.state, 'reporter', closed.last, ctx(locale));
    expect(card.buttons).toHaveLength(5);
    const values = byTag(renderCard(card, { locale }).card, 'button').map((b) => decodeCallbackValue(b.behaviors[0].value) as { actionId: string; value: string });
    expect(values.map((v) => v.actionId)).toEqual(Array(5).fill('incident.rate'));
    expect(values.map((v) => decodeButtonValue(v.value)?.arg)).toEqual(['1', '2', '3', '4', '5']);
  });

  it('shows the outcome instead of buttons on a decided card', () => {
    const { state, last } = closedIncident();
    const card = buildIncidentCard(state, 'queue:l1', last, ctx(locale));
    expect(card.buttons).toEqual([]);
    expect(card.outcome).toBeTruthy();
    const { card: out } = renderCard(card, { locale });
    expect(byTag(out, 'button')).toEqual([]);
    const elements = (out.body as { elements: El[] }).elements;
    expect(elements[elements.length - 1]).toEqual({ tag: 'markdown', content: `**${escapeFeishuMarkdown(card.outcome!)}**` });
    // A card left behind in another tier's queue says where the ticket went, on its own line.
    const accepted = run(report({}, { policy }), cmd.accept, as('zhang.san'), at(1), policy);
    const reassigned = act(accepted, { type: 'ReassignIncident', toTier: 'l1', toPerson: null, reason: 'network' }, as('zhang.san'), 2);
    const moved = buildIncidentCard(reassigned.state, 'queue:desk', reassigned.last, ctx(locale));
    expect(moved.buttons).toEqual([]);
    expect(moved.outcome).toContain('\n');
    const lines = String((renderCard(moved, { locale }).card.body as { elements: El[] }).elements.at(-1)!.content).split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^\*\*.+\*\*$/);
  });

  it('escapes markdown, tags and mentions in user text', () => {
    const evil = '**boom** <at id=all></at> [click](https://evil.example) ~~x~~ :DONE: `code`';
    const incident = report({ title: evil, description: `# heading\n- item\n1. first\n> quote\n<font color='red'>red</font> ${evil}` }, { policy });
    const card = buildIncidentCard(incident, 'queue:desk', null, ctx(locale));
    const { card: out } = renderCard(card, { locale });
    const md = markdownText(out);
    for (const bad of ['<at', '**boom', '](https', '~~', ':DONE:', '`', '<font color=\'red\'>red', '\n# ', '\n- ', '\n1. ', '\n> ']) {
      expect(md).not.toContain(bad);
    }
    expect(md).toContain('&#60;at id=all&#62;');
    expect(md).toContain('&#42;&#42;boom&#42;&#42;');
    expect(md.startsWith('&#35; heading')).toBe(true);
    // What only means something in one place is left alone elsewhere: times, names, a mid-line #.
    expect(escapeFeishuMarkdown('09:00 Li Wei (L1) #inc-12 a-b 3.5')).toBe('09:00 Li Wei (L1) #inc-12 a-b 3.5');
    // The header title is plain text, which Feishu does not parse: it is shown as typed.
    expect(out.header).toMatchObject({ title: { tag: 'plain_text', content: card.title } });
  });

  it('links a war room on Feishu by its chat id, and names one elsewhere', () => {
    let s = report({}, { policy });
    s = run(s, cmd.accept, as('zhang.san'), at(1), policy);
    s = run(s, { type: 'DeclareMajor' }, as('zhang.san'), at(2), policy);
    s = run(s, { type: 'RecordWarRoom', platform: 'feishu', channel: 'oc_41e7bdf4877cfc316136f4ccf6c32613', name: 'inc-12-vpn', invited: 3, uninvited: [] }, SYSTEM, at(3), policy);
    const card = buildIncidentCard(s, 'queue:desk', null, ctx(locale));
    const room = card.fields.find((f) => f.channel)!;
    expect(room.channel).toEqual({ platform: 'feishu', id: 'oc_41e7bdf4877cfc316136f4ccf6c32613' });
    const md = markdownText(renderCard(card, { locale }).card);
    expect(md).toContain(`[&#35;inc-12-vpn](https://applink.feishu.cn/client/chat/open?openChatId=oc_41e7bdf4877cfc316136f4ccf6c32613)`);
    const lark = markdownText(renderCard(card, { locale, chatApplink: 'https://applink.larksuite.com/client/chat/open' }).card);
    expect(lark).toContain('](https://applink.larksuite.com/client/chat/open?openChatId=oc_41e7bdf4877cfc316136f4ccf6c32613)');
    // A room on Slack, or an id that is not a chat id, is only named.
    for (const channel of [{ platform: 'slack' as const, id: 'C0ROOM12' }, { platform: 'feishu' as const, id: 'oc_x)(https://evil' }]) {
      const other = { ...card, fields: card.fields.map((f) => (f.channel ? { ...f, channel } : f)) };
      const text = markdownText(renderCard(other, { locale }).card);
      expect(text).not.toContain('](');
      expect(text).toContain('&#35;inc-12-vpn'); // a line-start # is escaped
    }
  });

  it('trims an oversize description under the 30 KB limit with a warning, keeping buttons and fields', () => {
    const incident = report({ system: 'Payroll' }, { policy });
    const card = buildIncidentCard(incident, 'queue:desk', null, ctx(locale));
    const huge = { ...card, body: '断<*>[]'.repeat(3000) };
    const { card: out, warnings } = renderCard(huge, { locale });
    expect(cardRequestBytes(out)).toBeLessThanOrEqual(FEISHU_LIMITS.cardRequestBytes);
    expect(countComponents(out.body)).toBeLessThanOrEqual(FEISHU_LIMITS.cardComponents);
    expect(warnings.some((w) => w.startsWith('body cut to'))).toBe(true);
    expect(warnings.some((w) => w.startsWith('body trimmed to'))).toBe(true);
    expect(byTag(out, 'button')).toHaveLength(card.buttons.length);
    const md = markdownText(out);
    for (const f of card.fields) expect(md).toContain(escapeFeishuMarkdown(f.label));
    const body = (out.body as { elements: El[] }).elements[0]!;
    expect(body.content).toContain(escapeFeishuMarkdown(locale === 'zh-CN' ? '（内容过长，已截断）' : '(shortened to fit the card)'));
    expect(body.content).not.toContain('<at');
    // The body alone, cut but not trimmed, would not have fitted.
    expect(new TextEncoder().encode(escapeFeishuMarkdown(huge.body.slice(0, FEISHU_LIMITS.bodyText))).length).toBeGreaterThan(FEISHU_LIMITS.cardRequestBytes);
  });

  it('cuts long titles, fields and context lines with warnings', () => {
    const card = buildIncidentCard(report({}, { policy }), 'queue:desk', null, ctx(locale));
    const long = {
      ...card,
      title: 'T'.repeat(500),
      fields: [...card.fields, { label: 'Notes', value: 'v'.repeat(5000) }],
      context: Array.from({ length: 15 }, (_, i) => `line ${i}`),
    };
    const { card: out, warnings } = renderCard(long, { locale });
    expect(Array.from((out.header as El).title.content as string)).toHaveLength(FEISHU_LIMITS.headerTitle);
    expect(warnings).toContain(`title cut to ${FEISHU_LIMITS.headerTitle} characters`);
    expect(warnings.some((w) => w.startsWith('field "Notes" cut to'))).toBe(true);
    expect(warnings).toContain(`context cut to ${FEISHU_LIMITS.contextLines} lines`);
    expect(byTag(out, 'markdown').find((m) => m.text_size === 'notation')!.content.split('\n')).toHaveLength(FEISHU_LIMITS.contextLines);
  });
});

describe.each(LOCALES)('Feishu forms (%s)', (locale) => {
  const context: FormContext = { formId: 'report', incidentId: null, version: null, channel: 'oc_origin' };

  it('renders the report form as a form container and reads the submission back', () => {
    const form = reportForm(locale, policy, 'VPN down');
    const { card, warnings } = renderForm(form, JSON.stringify(context), locale === 'en' ? 'Cancel' : '取消');
    expect(card).toMatchObject({ schema: '2.0', config: { update_multi: true }, header: { title: { tag: 'plain_text', content: form.title } } });
    const container = byTag(card, 'form');
    expect(container).toHaveLength(1);
    expect(container[0]!.name).toBe(FORM_NAME);
    const named = Object.fromEntries(all(container[0]!.elements).filter((e) => e.name).map((e) => [e.name, e]));
    expect(named.title).toMatchObject({ tag: 'input', input_type: 'text', required: true, max_length: 150, default_value: 'VPN down' });
    expect(named.title!.placeholder).toEqual({ tag: 'plain_text', content: form.fields[0]!.placeholder });
    expect(named.description).toMatchObject({ tag: 'input', input_type: 'multiline_text', required: false, max_length: FEISHU_LIMITS.inputMaxLength });
    expect(warnings).toContain(`description: Feishu inputs take at most ${FEISHU_LIMITS.inputMaxLength} characters (the form allows 3000)`);
    const category = form.fields.find((f) => f.id === 'category')!;
    expect(named.category).toMatchObject({ tag: 'select_static', required: true, initial_option: policy.defaults.category });
    expect(named.category!.options).toEqual(category.options!.map((o) => ({ text: { tag: 'plain_text', content: o.label }, value: o.value })));
    // Every field is labelled; required ones are marked.
    const labels = markdownText(card);
    for (const f of form.fields) expect(labels).toContain(escapeFeishuMarkdown(f.label));

    // Submit: the button's value comes back with the values Feishu collected.
    const submit = named.firebell_submit!;
    expect(submit).toMatchObject({ tag: 'button', form_action_type: 'submit', type: 'primary', text: { tag: 'plain_text', content: form.submit } });
    const decoded = decodeCallbackValue(JSON.parse(JSON.stringify(submit.behaviors[0].value)));
    expect(decoded).toEqual({ formSubmit: true, form: 'report', context: JSON.stringify(context) });
    expect(JSON.parse((decoded as { context: string }).context)).toEqual(context);
    const formValue = { title: 'VPN down again', description: '自 9 点起\n每 5 分钟断一次', category: 'fault', impact: 'high', urgency: 'low', system: '', location: 'HQ 3F' };
    expect(reportFromForm(readFormValues(formValue))).toEqual({
      title: 'VPN down again',
      description: '自 9 点起\n每 5 分钟断一次',
      category: 'fault',
      impact: 'high',
      urgency: 'low',
      system: undefined,
      location: 'HQ 3F',
    });

    // Cancel sits outside the form and is told apart from a submission.
    const cancel = (card.body as { elements: El[] }).elements[1]!;
    expect(cancel).toMatchObject({ tag: 'button', text: { content: locale === 'en' ? 'Cancel' : '取消' } });
    expect(cancel.form_action_type).toBeUndefined();
    expect(decodeCallbackValue(cancel.behaviors[0].value)).toEqual({ formCancel: true, form: 'report', context: JSON.stringify(context) });
    expect(cancel.behaviors[0].value.action).toBe(FORM_CANCEL_ACTION);
    expect(submit.behaviors[0].value.action).toBe(FORM_SUBMIT_ACTION);
  });

  it('round-trips an action form with a wait-until time and a resolution code', () => {
    let incident = report({}, { policy });
    incident = run(incident, cmd.accept, as('zhang.san'), at(1), policy);
    const hold = actionForm('incident.hold', incident, locale, policy)!;
    const holdCtx: FormContext = { formId: 'incident.hold', incidentId: incident.id, version: incident.version, channel: 'oc_q' };
    const { card } = renderForm(hold, JSON.stringify(holdCtx), 'Cancel');
    const until = all(card.body).find((e) => e.name === 'until')!;
    expect(until).toMatchObject({ tag: 'input', input_type: 'text', required: false, placeholder: { tag: 'plain_text', content: 'YYYY-MM-DD HH:mm' } });
    const reason = all(card.body).find((e) => e.name === 'reason')!;
    expect(reason).toMatchObject({ input_type: 'multiline_text', required: true });
    const parsed = commandFromForm('incident.hold', readFormValues({ reason: '等用户回电', until: '2026-11-24 09:00' }), policy);
    expect(parsed).toEqual({ ok: true, command: { type: 'HoldIncident', reason: '等用户回电', until: '2026-11-24T01:00:00.000Z' } });

    const resolve = actionForm('incident.resolve', incident, locale, policy)!;
    const code = all(renderForm(resolve, JSON.stringify({ ...holdCtx, formId: 'incident.resolve' }), 'Cancel').card.body).find((e) => e.name === 'code')!;
    expect(code).toMatchObject({ tag: 'select_static', initial_option: 'fixed', required: true });
    const chosen = code.options[1].value as string;
    expect(commandFromForm('incident.resolve', readFormValues({ code: chosen, note: 'rebooted' }), policy)).toEqual({
      ok: true,
      command: { type: 'ResolveIncident', code: chosen, note: 'rebooted' },
    });
  });

  it('ignores form values that are not plain field values', () => {
    const values = readFormValues({
      reason: 'ok',
      pick: { value: 'v1' },
      other: { option: 'o1' },
      multi: ['a', 'b'],
      count: 3,
      empty: null,
      'bad key': 'x',
      __proto__x: 'x',
      huge: 'y'.repeat(FEISHU_LIMITS.formValue + 1),
    });
    expect(values).toEqual({ reason: 'ok', pick: 'v1', other: 'o1' });
    expect(readFormValues(null)).toEqual({});
    expect(readFormValues('not json')).toEqual({});
    expect(readFormValues(['reason'])).toEqual({});
    expect(readFormValues('{"reason":"typed"}')).toEqual({ reason: 'typed' });
    expect(Object.getPrototypeOf(readFormValues(JSON.parse('{"__proto__":{"polluted":"yes"}}')))).toBe(Object.prototype);
  });
});

describe('Feishu callback values', () => {
  const good = encodeButtonValue({ incidentId: INCIDENT_ID, version: 3 });
  const ctxJson = JSON.stringify({ formId: 'report', incidentId: null, version: null, channel: 'oc_1' });

  it('reads back what the buttons carry, also as a JSON string', () => {
    expect(decodeCallbackValue({ action: 'incident.accept', value: good })).toEqual({ actionId: 'incident.accept', value: good });
    expect(decodeCallbackValue(JSON.stringify({ action: 'major.confirm', value: good }))).toEqual({ actionId: 'major.confirm', value: good });
    expect(decodeCallbackValue({ action: 'form.submit', form: 'incident.hold', context: ctxJson })).toEqual({ formSubmit: true, form: 'incident.hold', context: ctxJson });
  });

  it('refuses malformed or tampered values without throwing', () => {
    const bad: unknown[] = [
      undefined,
      null,
      42,
      true,
      'incident.accept',
      '{"action":',
      [],
      ['incident.accept', good],
      {},
      { action: 'incident.accept' },
      { action: 'incident.accept', value: 'not-a-button-value' },
      { action: 'incident.accept', value: `${INCIDENT_ID}|0|` },
      { action: 'incident.accept', value: 7 },
      { action: 'incident.nuke', value: good },
      { action: 'incident.accept', value: good, extra: 1 },
      { action: 'form.submit', form: 'report' },
      { action: 'form.submit', form: 'evil', context: ctxJson },
      { action: 'form.submit', form: 'report', context: 'not json' },
      { action: 'form.submit', form: 'report', context: '[1,2]' },
      { action: 'form.submit', form: 'report', context: 'x'.repeat(FEISHU_LIMITS.formContext + 1) },
      { action: 'form.submit', form: 'report', context: ctxJson, value: good },
      { action: 'form.cancel', form: 'report', context: 5 },
      JSON.stringify({ action: 'incident.accept', value: good }).repeat(200),
      { toString: () => 'x' },
    ];
    for (const v of bad) expect(decodeCallbackValue(v), JSON.stringify(v) ?? String(v)).toBeNull();
  });
});

describe('Feishu text messages', () => {
  it('drops Slack-style bold markers and keeps the text', () => {
    const content = renderText('*Firebell: incident management*\nUse *status* to see one. 2*3*4 stays.\n*Firebell：事件管理*。');
    expect(JSON.parse(content)).toEqual({ text: 'Firebell: incident management\nUse status to see one. 2*3*4 stays.\nFirebell：事件管理。' });
  });

  it('cannot be made to mention people', () => {
    const { text } = JSON.parse(renderText('VPN <at user_id="all">everyone</at> down')) as { text: string };
    expect(text).not.toContain('<at');
    expect(text.replace(/\u200b/g, '')).toBe('VPN <at user_id="all">everyone</at> down');
  });

  it('stays inside the 150 KB text limit', () => {
    const content = renderText('断'.repeat(60_000));
    expect(new TextEncoder().encode(JSON.stringify(content)).length).toBeLessThanOrEqual(FEISHU_LIMITS.textRequestBytes);
    expect((JSON.parse(content) as { text: string }).text.endsWith('…')).toBe(true);
  });
});
