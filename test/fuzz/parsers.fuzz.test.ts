/**
 * Property-based fuzzing of every pure inbound parser (issue 7): what people type, what buttons
 * and forms carry back, what Feishu, DingTalk and Slack send, the request signatures, and the
 * policy file. Each parser must never throw on any input; where it has a contract (a report keeps
 * its text, a button value round-trips, the policy loader throws only PolicyError) it is checked
 * on random and near-miss inputs.
 */
import { createHash, createHmac, createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { robotText } from '../../src/adapters/dingtalk/events';
import { verifyDingTalkSignature, MAX_SKEW_MS } from '../../src/adapters/dingtalk/http';
import { typedCommand } from '../../src/adapters/dingtalk/render';
import { decryptFeishu, FeishuDecryptError, sameSecret, tokenOf, verifyFeishuSignature } from '../../src/adapters/feishu/crypto';
import { messageText } from '../../src/adapters/feishu/events';
import { FEISHU_LIMITS } from '../../src/adapters/feishu/limits';
import { decodeCallbackValue, FORM_CANCEL_ACTION, FORM_SUBMIT_ACTION, readFormValues } from '../../src/adapters/feishu/render';
import { neutralActionId, readModalValues } from '../../src/adapters/slack/render';
import { buildPolicy, loadPolicyFile, PolicyError } from '../../src/config/policy-schema';
import { parseCommand, parseIncidentNumber, titleAndDescription, type ParsedCommand } from '../../src/flows/commands/parse';
import { LIMITS } from '../../src/flows/incident/decide';
import { PRIORITIES, TIERS } from '../../src/flows/incident/model';
import { ACTION_IDS, decodeButtonValue, encodeButtonValue, type ActionId, type ButtonValue } from '../../src/flows/messages/card';
import { actionForm, commandFromForm, parseLocalDateTime, reportFromForm, type FormValues } from '../../src/flows/messages/forms';
import { LOCALES, type Policy } from '../../src/flows/policy/policy';
import { testPolicy, testPolicyDoc } from '../support/policy';
import { report as reportFixture } from '../flows/fixtures';
import { ACTION_WORDS, anyText, COMMAND_WORDS, commandLine, edgeText, jsonish, numberRef, separator, utf16Text, wrongType } from './arbitraries';

const policy = testPolicy();
const NUMBER = /^INC-\d+$/;
const KINDS = ['form', 'help', 'list', 'status', 'report', 'priority', 'sla', 'major', 'update', 'note', 'analysis', 'link', 'act', 'error'];
const ERROR_KEYS = ['command.status_needs_number', 'command.priority_usage', 'command.sla_usage', 'command.major_usage', 'command.update_usage', 'command.note_usage', 'command.link_usage'];
const TYPED_ACTIONS = new Set(Object.values(ACTION_WORDS));
const codePoints = (s: string) => Array.from(s).length;

/** Numbers people type: small ones, zero, and the longest parseIncidentNumber takes. */
const smallNumber = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 999_999_999_999 }));
/** What a person may type after `/incident`: random text, or a real command line with near misses. */
const typed = fc.oneof({ weight: 2, arbitrary: anyText }, { weight: 3, arbitrary: commandLine(smallNumber) });

/** The shape every ParsedCommand must have, whatever was typed. */
function expectWellFormed(p: ParsedCommand) {
  expect(KINDS).toContain(p.kind);
  const num = (n: string | null) => (n === null ? true : NUMBER.test(n));
  switch (p.kind) {
    case 'form':
      expect(p.title).toBe('');
      break;
    case 'status':
    case 'sla':
      expect(num(p.number)).toBe(true);
      break;
    case 'report':
      expect(p.title.length).toBeGreaterThan(0);
      expect(codePoints(p.title)).toBeLessThanOrEqual(LIMITS.title);
      expect(codePoints(p.description)).toBeLessThanOrEqual(LIMITS.description);
      break;
    case 'priority':
      expect(NUMBER.test(p.number)).toBe(true);
      expect(PRIORITIES).toContain(p.priority);
      expect(typeof p.reason).toBe('string');
      break;
    case 'major':
      expect(num(p.number)).toBe(true);
      // Without a number it files a report: there must be text for it.
      if (p.number === null) expect(p.text.length).toBeGreaterThan(0);
      break;
    case 'update':
    case 'note':
      expect(num(p.number)).toBe(true);
      expect(typeof p.text).toBe('string');
      expect(p.raw.length).toBeGreaterThan(0);
      break;
    case 'analysis':
      expect(num(p.number)).toBe(true);
      expect(typeof p.markdown).toBe('boolean');
      break;
    case 'link':
      expect(NUMBER.test(p.child) && NUMBER.test(p.major)).toBe(true);
      break;
    case 'act':
      expect(TYPED_ACTIONS.has(p.action)).toBe(true);
      expect(NUMBER.test(p.number)).toBe(true);
      expect(p.text).toBe(p.text.trim());
      break;
    case 'error':
      expect(ERROR_KEYS).toContain(p.key);
      expect(typeof p.text).toBe('string');
      break;
  }
}

describe('typed commands (parseCommand, parseIncidentNumber)', () => {
  it('parseCommand never throws and always answers one of its kinds, well formed', () => {
    fc.assert(
      fc.property(typed, (raw) => {
        expectWellFormed(parseCommand(raw));
      }),
      { numRuns: 3000 },
    );
    // Adapters pass what the platform gave; a missing text is the report form, not a crash.
    expect(parseCommand(undefined as unknown as string)).toEqual({ kind: 'form', title: '' });
    expect(parseCommand(null as unknown as string)).toEqual({ kind: 'form', title: '' });
  });

  it('a report keeps the text: its title is the first line, cut, and nothing typed is lost', () => {
    fc.assert(
      fc.property(typed, (raw) => {
        const p = parseCommand(raw);
        if (p.kind !== 'report') return;
        const text = raw.replace(/\u00a0/g, ' ').trim();
        // What was filed: the description when there is one, else the title alone was the whole text.
        const kept = p.description || p.title;
        expect(kept).toBe(kept.trim());
        if (codePoints(text) <= LIMITS.description) {
          // Either all of it, or all after a `report` word: never a word dropped in the middle.
          expect(text.endsWith(kept)).toBe(true);
          expect(kept.length).toBeGreaterThan(0);
        } else {
          expect(p.description.endsWith('…')).toBe(true);
        }
        const title = p.title.endsWith('…') && codePoints(p.title) === LIMITS.title ? p.title.slice(0, -1) : p.title;
        expect(kept.startsWith(title)).toBe(true);
        // One line as titleAndDescription splits lines (\n, \r\n); a lone \r stays (see the report).
        expect(p.title).not.toMatch(/\n/);
      }),
      { numRuns: 3000 },
    );
  });

  it('text that does not start with a command word is always a report, whole', () => {
    const lower = new Set(COMMAND_WORDS.map((w) => w.toLowerCase()));
    fc.assert(
      fc.property(anyText, (raw) => {
        const text = raw.replace(/\u00a0/g, ' ').trim();
        const head = text.split(/\s+/)[0] ?? '';
        fc.pre(text.length > 0 && !lower.has(head.toLowerCase()));
        const p = parseCommand(raw);
        expect(p.kind).toBe('report');
        if (p.kind === 'report' && codePoints(text) <= LIMITS.description) expect(p.description || p.title).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('every typed command a DingTalk button stands for parses back to its action and number', () => {
    const actions = ACTION_IDS.filter((a) => a !== 'war_room.roles');
    fc.assert(
      fc.property(fc.constantFrom(...actions), numberRef(fc.integer({ min: 1, max: 99_999 })), fc.option(fc.constantFrom('1', '5', '0', 'x'), { nil: undefined }), fc.constantFrom(...LOCALES), (action, ref, arg, locale) => {
        const line = typedCommand(action, ref, arg, locale);
        const number = parseIncidentNumber(ref);
        if (!number) {
          expect(line).toBeNull();
          return;
        }
        expect(line).not.toBeNull();
        const p = parseCommand(line!);
        if (action === 'incident.declare_major') expect(p).toEqual({ kind: 'major', number, text: '' });
        // A status update needs its text: the bare command is the usage answer, naming nothing else.
        else if (action === 'war_room.update') expect(p).toMatchObject({ kind: 'error', key: 'command.update_usage' });
        else expect(p).toMatchObject({ kind: 'act', action, number });
      }),
      { numRuns: 1000 },
    );
  });

  it('parseIncidentNumber never throws; a number it gives is normalised and parses to itself', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, numberRef(smallNumber)), (raw) => {
        const n = parseIncidentNumber(raw);
        if (n === null) return;
        expect(n).toMatch(NUMBER);
        expect(parseIncidentNumber(n)).toBe(n);
        expect(Number.isSafeInteger(Number(n.slice(4)))).toBe(true);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999_999 }), fc.constantFrom('INC-', 'inc-', 'inc', '#', ''), separator, (n, prefix, pad) => {
        expect(parseIncidentNumber(`${pad}${prefix}${n}${pad}`)).toBe(`INC-${n}`);
      }),
    );
  });

  it('titleAndDescription never throws and stays inside the limits', () => {
    fc.assert(
      fc.property(anyText, (raw) => {
        const { title, description } = titleAndDescription(raw);
        expect(codePoints(title)).toBeLessThanOrEqual(LIMITS.title);
        expect(codePoints(description)).toBeLessThanOrEqual(LIMITS.description);
      }),
    );
  });
});

// ── Buttons ──

const hexCase = fc.uuid().chain((u) => fc.constantFrom(u, u.toUpperCase()));
const buttonValue: fc.Arbitrary<ButtonValue> = fc
  .record({
    incidentId: hexCase,
    version: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 2 ** 31 })),
    // An argument never holds the separator: encode/decode would split it (see the report).
    arg: fc.option(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('|')), { nil: undefined }),
  })
  .map(({ arg, ...v }) => (arg === undefined ? v : { ...v, arg }));

/** One change to an encoded value that makes it not ours: each must be refused. */
type Breakage =
  | { kind: 'uuidChar'; index: number; ch: string }
  | { kind: 'uuidDelete'; index: number }
  | { kind: 'uuidInsert'; index: number; ch: string }
  | { kind: 'version'; to: string }
  | { kind: 'noSeparators' }
  | { kind: 'tooLong'; extra: number }
  | { kind: 'leading'; ch: string };
const breakage: fc.Arbitrary<Breakage> = fc.oneof(
  fc.record({ kind: fc.constant('uuidChar' as const), index: fc.integer({ min: 0, max: 35 }), ch: fc.constantFrom('g', 'z', ' ', '_', 'é', '|', '\u0000', '.', '０') }),
  fc.record({ kind: fc.constant('uuidDelete' as const), index: fc.integer({ min: 0, max: 35 }) }),
  fc.record({ kind: fc.constant('uuidInsert' as const), index: fc.integer({ min: 0, max: 36 }), ch: fc.constantFrom('a', '0', '-') }),
  fc.record({ kind: fc.constant('version' as const), to: fc.constantFrom('0', '-1', '1.5', '', 'abc', 'NaN', 'Infinity', '-0', '1e400', '0.5', ' ', '+-1', 'true') }),
  fc.constant({ kind: 'noSeparators' as const }),
  fc.record({ kind: fc.constant('tooLong' as const), extra: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('leading' as const), ch: fc.constantFrom(' ', '\t', '\n', '0', '|') }),
);

function breakValue(v: ButtonValue, b: Breakage): string {
  const id = v.incidentId;
  const rest = `|${v.version}|${v.arg ?? ''}`;
  switch (b.kind) {
    case 'uuidChar':
      return `${id.slice(0, b.index)}${b.ch}${id.slice(b.index + 1)}${rest}`;
    case 'uuidDelete':
      return `${id.slice(0, b.index)}${id.slice(b.index + 1)}${rest}`;
    case 'uuidInsert':
      return `${id.slice(0, b.index)}${b.ch}${id.slice(b.index)}${rest}`;
    case 'version':
      return `${id}|${b.to}|${v.arg ?? ''}`;
    case 'noSeparators':
      return encodeButtonValue(v).replace(/\|/g, '');
    case 'tooLong':
      return `${id}|${v.version}|${'x'.repeat(Math.max(b.extra, 201 - id.length - String(v.version).length - 2))}`;
    case 'leading':
      return `${b.ch}${encodeButtonValue(v)}`;
  }
}

describe('button values (decodeButtonValue)', () => {
  it('never throws on anything a platform could hand back', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), anyText, jsonish), (raw) => {
        const v = decodeButtonValue(raw);
        if (v === null) return;
        expect(typeof raw).toBe('string');
        expect(v.incidentId).toMatch(/^[0-9a-f-]{36}$/i);
        expect(Number.isInteger(v.version) && v.version >= 1).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips encodeButtonValue', () => {
    fc.assert(
      fc.property(buttonValue, (v) => {
        expect(decodeButtonValue(encodeButtonValue(v))).toStrictEqual(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every mutation that makes the value not ours', () => {
    fc.assert(
      fc.property(buttonValue, breakage, (v, b) => {
        const raw = breakValue(v, b);
        expect(decodeButtonValue(raw), `${b.kind}: ${JSON.stringify(raw)}`).toBeNull();
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(buttonValue, fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string()), fc.object()), (v, other) => {
        // Structured, not a string: a platform that parsed it for us is not one of ours.
        expect(decodeButtonValue(other)).toBeNull();
        expect(decodeButtonValue([encodeButtonValue(v)])).toBeNull();
        expect(decodeButtonValue({ value: encodeButtonValue(v) })).toBeNull();
      }),
    );
  });

  it('whatever it accepts re-encodes to a value that decodes the same (one meaning per value)', () => {
    const nearMiss = fc
      .tuple(fc.oneof(hexCase, fc.constantFrom('-'.repeat(36), 'f'.repeat(36))), fc.oneof(fc.integer({ min: -2, max: 99 }).map(String), fc.constantFrom('1e3', ' 7', '0x1f', '5.0', '07', '')), fc.oneof(fc.string({ maxLength: 10 }), fc.constant('a|b')))
      .map(([id, version, arg]) => `${id}|${version}|${arg}`);
    fc.assert(
      fc.property(fc.oneof(nearMiss, anyText), (raw) => {
        const v = decodeButtonValue(raw);
        if (!v) return;
        const again = encodeButtonValue(v);
        if (again.length <= 200) expect(decodeButtonValue(again)).toStrictEqual(v);
        expect(raw.startsWith(`${v.incidentId}|`)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

// ── Forms ──

const FIELD_IDS = ['reason', 'until', 'code', 'note', 'tier', 'person', 'update', 'commander', 'comms', 'title', 'description', 'category', 'impact', 'urgency', 'system', 'location', 'action', 'extra'];
/** Values a form may come back with: the right options, wrong ones, empty, or anything typed. */
const fieldValue = fc.oneof(
  fc.constantFrom('fixed', 'workaround', 'l2', 'desk', 'l9', 'wang.wu', 'l1:li.wei', 'l2:li.wei', ':', 'x:y:z', 'chen.jing', 'nobody', '2026-11-23 09:00', '2026-02-30 10:00', '2026-11-23T09:00:00Z', 'high', 'fault', 'P1', ''),
  anyText,
);
const formValues: fc.Arbitrary<FormValues> = fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_IDS), fc.string({ maxLength: 8 })), fc.option(fieldValue, { nil: undefined }), { maxKeys: 8 });
const EXPECTED: Partial<Record<ActionId, string>> = {
  'incident.escalate': 'EscalateIncident',
  'incident.reject': 'RejectIncident',
  'incident.reopen': 'ReopenIncident',
  'request.deny': 'DenyRequest',
  'incident.hold': 'HoldIncident',
  'incident.resolve': 'ResolveIncident',
  'incident.reassign': 'ReassignIncident',
  'war_room.update': 'PostStatusUpdate',
  'major.downgrade': 'DowngradeMajor',
  'war_room.roles': 'ChangeMajorRoles',
};

describe('forms (commandFromForm, reportFromForm, parseLocalDateTime)', () => {
  const incident = reportFixture();

  it('commandFromForm never throws: the command its form stands for, or a field of that form named', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...ACTION_IDS), fc.string({ maxLength: 12 }) as fc.Arbitrary<ActionId>), formValues, (actionId, values) => {
        const r = commandFromForm(actionId, values, policy);
        // Own keys only: `valueOf` is not an action, whatever Object.prototype says.
        const expected = Object.hasOwn(EXPECTED, actionId) ? EXPECTED[actionId] : undefined;
        if (!expected) {
          expect(r).toEqual({ ok: false, field: 'action', problem: 'unknown' });
          return;
        }
        if (r.ok) {
          expect(r.command.type).toBe(expected);
          return;
        }
        // The field it names is one the person can see and fix in that form.
        const form = actionForm(actionId, incident, 'en', policy);
        expect(form?.fields.map((f) => f.id)).toContain(r.field);
        expect(r.problem.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('reportFromForm never throws and hands decide trimmed strings or nothing', () => {
    fc.assert(
      fc.property(formValues, (values) => {
        const r = reportFromForm(values);
        expect(typeof r.title).toBe('string');
        for (const v of Object.values(r)) if (v !== undefined) expect(v).toBe((v as string).trim());
      }),
    );
  });

  it('parseLocalDateTime never throws; what it gives is an ISO instant', () => {
    const stamp = fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.constantFrom(' ', 'T', '  '))
      .map(([y, mo, d, h, mi, sep]) => `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}${sep}${h}:${String(mi).padStart(2, '0')}`);
    const zone = fc.constantFrom('Asia/Shanghai', 'UTC', 'America/New_York', 'Pacific/Kiritimati', 'Asia/Kathmandu');
    fc.assert(
      fc.property(fc.oneof(stamp, anyText, fc.constantFrom('2026-11-23T09:00:00Z', '2026-11-23T09:00+08:00', 'Z', '+08:00', 'now Z')), zone, (text, tz) => {
        const iso = parseLocalDateTime(text, tz);
        if (iso === null) return;
        expect(new Date(iso).toISOString()).toBe(iso);
      }),
      { numRuns: 2000 },
    );
  });
});

// ── Feishu callbacks and messages ──

const cardButton = fc.record({ action: fc.constantFrom(...ACTION_IDS), value: buttonValue.map(encodeButtonValue) });
const formContext = fc.record({ formId: fc.constantFrom('report', ...ACTION_IDS), incidentId: fc.option(fc.uuid(), { nil: null }), version: fc.option(fc.nat(), { nil: null }), channel: fc.string({ maxLength: 12 }) });
const formButton = fc.record({ action: fc.constantFrom(FORM_SUBMIT_ACTION, FORM_CANCEL_ACTION), form: fc.constantFrom('report', ...ACTION_IDS), context: formContext.map((c) => JSON.stringify(c)) });

/** A Feishu `action.value` one step off ours: a key added or dropped, or one field replaced. */
function nearMissCallback(): fc.Arbitrary<Record<string, unknown>> {
  const base = fc.oneof(cardButton, formButton) as fc.Arbitrary<Record<string, unknown>>;
  return fc.oneof(
    fc.tuple(base, fc.string({ minLength: 1, maxLength: 6 }), jsonish).map(([v, k, x]) => (k in v ? { ...v, [`${k}_`]: x } : { ...v, [k]: x })),
    fc.tuple(base, fc.nat()).map(([v, i]) => {
      const keys = Object.keys(v);
      const { [keys[i % keys.length]!]: _dropped, ...rest } = v;
      return rest;
    }),
    fc.tuple(base, fc.nat(), wrongType).map(([v, i, x]) => {
      const keys = Object.keys(v);
      return { ...v, [keys[i % keys.length]!]: x };
    }),
  );
}

describe('Feishu callback values and form values (decodeCallbackValue, readFormValues)', () => {
  it('decodeCallbackValue never throws; what it accepts is exactly one of ours', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), jsonish, anyText, nearMissCallback(), nearMissCallback().map((v) => JSON.stringify(v))), (raw) => {
        const d = decodeCallbackValue(raw);
        if (!d) return;
        if ('actionId' in d) {
          expect(ACTION_IDS).toContain(d.actionId);
          expect(decodeButtonValue(d.value)).not.toBeNull();
        } else {
          expect(['report', ...ACTION_IDS]).toContain(d.form);
          const ctx = JSON.parse(d.context);
          expect(ctx && typeof ctx === 'object' && !Array.isArray(ctx)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts every value the renderer puts on a button or form, as an object or as its JSON', () => {
    fc.assert(
      fc.property(fc.oneof(cardButton, formButton) as fc.Arbitrary<Record<string, string>>, fc.boolean(), (v, asString) => {
        const d = decodeCallbackValue(asString ? JSON.stringify(v) : v);
        if ('value' in v) expect(d).toEqual({ actionId: v.action, value: v.value });
        else expect(d).toEqual(v.action === FORM_SUBMIT_ACTION ? { formSubmit: true, form: v.form, context: v.context } : { formCancel: true, form: v.form, context: v.context });
      }),
    );
  });

  it('refuses a value with a key added or dropped, or a field of the wrong type', () => {
    fc.assert(
      fc.property(fc.oneof(cardButton, formButton) as fc.Arbitrary<Record<string, unknown>>, fc.string({ minLength: 1, maxLength: 6 }), jsonish, fc.nat(), (v, key, extra, i) => {
        const keys = Object.keys(v);
        const added = key in v ? { ...v, [`${key}_`]: extra } : { ...v, [key]: extra };
        expect(decodeCallbackValue(added)).toBeNull();
        const { [keys[i % keys.length]!]: _gone, ...dropped } = v;
        expect(decodeCallbackValue(dropped)).toBeNull();
      }),
    );
  });

  it('readFormValues never throws and returns only field names with strings inside the limit', () => {
    const formValue = fc.oneof(
      fc.anything(),
      jsonish,
      fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_IDS, '__proto__', 'constructor', '1bad', 'a-b'), fc.string({ maxLength: 6 })), fc.oneof(anyText, wrongType, fc.record({ value: anyText }), fc.record({ option: anyText }))),
    );
    fc.assert(
      fc.property(fc.oneof(formValue, formValue.map((v) => JSON.stringify(v) ?? '')), (raw) => {
        const out = readFormValues(raw);
        expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
        for (const [k, v] of Object.entries(out)) {
          expect(k).toMatch(/^[A-Za-z][A-Za-z0-9_]{0,63}$/);
          expect(typeof v).toBe('string');
          expect(v!.length).toBeLessThanOrEqual(FEISHU_LIMITS.formValue);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** Text as the parsers hand it on: single spaces between words, nothing at either end. */
const expectOneLine = (s: string) => {
  expect(s).toBe(s.trim());
  expect(s).not.toMatch(/\s\s|[^\S ]/);
};

describe('Feishu messages (messageText)', () => {
  const mention = fc.record(
    { key: fc.oneof(fc.constantFrom('@_user_1', '@_user_2', '@_all', ''), fc.string({ maxLength: 6 }), wrongType), id: fc.oneof(fc.record({ open_id: fc.constantFrom('ou_bot', 'ou_x') }), wrongType), name: fc.oneof(fc.string({ maxLength: 8 }), jsonish) },
    { requiredKeys: [] },
  );
  const content = fc.oneof(
    fc.tuple(anyText, fc.array(fc.constantFrom('@_user_1', '@_user_2', '/incident ', ' '), { maxLength: 3 })).map(([t, bits]) => JSON.stringify({ text: `${bits.join('')}${t}` })),
    jsonish.map((v) => JSON.stringify(v) ?? ''),
    fc.record({ text: wrongType }).map((v) => JSON.stringify(v)),
    anyText,
  );
  const message = fc.record(
    { message_type: fc.oneof(fc.constantFrom('text', 'image', 'post', 'TEXT'), wrongType), content: fc.oneof(content, wrongType), mentions: fc.oneof(fc.array(mention, { maxLength: 4 }), wrongType) },
    { requiredKeys: [] },
  );

  it('never throws; gives the text on one line without the bot mention or command prefix, or null', () => {
    fc.assert(
      fc.property(fc.oneof(message, jsonish.filter((v): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v))), fc.option(fc.constantFrom('ou_bot', ''), { nil: undefined }), (msg, bot) => {
        const text = messageText(msg as Record<string, unknown>, bot);
        if (text === null) return;
        expect(typeof text).toBe('string');
        expectOneLine(text);
      }),
      { numRuns: 3000 },
    );
  });

  it('drops one typed command prefix and the bot mention, and keeps the rest of the text', () => {
    const words = fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((w) => /^\S+$/.test(w) && !w.includes('@_user')), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(words, fc.constantFrom('', '/incident ', '/Firebell  ', '@_user_1 ', '@_user_1 /incident '), separator, (ws, prefix, sep) => {
        fc.pre(!/^\/(incident|firebell)\b/i.test(ws[0]!));
        const msg = { message_type: 'text', content: JSON.stringify({ text: `${prefix}${ws.join(sep)}` }), mentions: [{ key: '@_user_1', id: { open_id: 'ou_bot' }, name: 'Firebell' }] };
        expect(messageText(msg, 'ou_bot')).toBe(ws.join(' '));
      }),
    );
  });
});

describe('DingTalk robot messages (robotText)', () => {
  const robot = fc.record(
    {
      msgtype: fc.oneof(fc.constantFrom('text', 'markdown', 'picture', 'richText'), wrongType),
      text: fc.oneof(fc.record({ content: fc.oneof(anyText, fc.constant(' /incident list'), wrongType) }, { requiredKeys: [] }), wrongType),
      senderStaffId: fc.oneof(fc.string({ maxLength: 8 }), wrongType),
      conversationType: fc.oneof(fc.constantFrom('1', '2'), wrongType),
      conversationId: fc.oneof(fc.string({ maxLength: 8 }), wrongType),
      sessionWebhookExpiredTime: wrongType,
    },
    { requiredKeys: [] },
  );

  it('never throws; a text message gives its text on one line without the command prefix, anything else null', () => {
    fc.assert(
      fc.property(fc.oneof(robot, jsonish.filter((v): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v))), (msg) => {
        const text = robotText(msg as Record<string, unknown>);
        const m = msg as { msgtype?: unknown; text?: { content?: unknown } };
        if (m.msgtype !== 'text' || typeof m.text?.content !== 'string') {
          expect(text).toBeNull();
          return;
        }
        expect(typeof text).toBe('string');
        expectOneLine(text!);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('Slack view submissions and action ids (readModalValues, neutralActionId)', () => {
  it('readModalValues never throws and gives strings or nothing per block', () => {
    const state = fc.dictionary(
      fc.oneof(fc.constantFrom(...FIELD_IDS), fc.string({ maxLength: 6 })),
      fc.oneof(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.record({ value: fc.oneof(anyText, wrongType) }, { requiredKeys: [] }), fc.record({ selected_option: fc.oneof(fc.constant(null), fc.record({ value: fc.oneof(anyText, wrongType) }, { requiredKeys: [] })) }), wrongType)),
        wrongType,
      ),
    );
    fc.assert(
      fc.property(fc.oneof(state, fc.anything(), jsonish), (values) => {
        for (const v of Object.values(readModalValues(values))) if (v !== undefined) expect(typeof v).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('neutralActionId never throws and strips only the uniqueness suffix', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...ACTION_IDS), anyText), fc.option(fc.string({ maxLength: 8 }), { nil: undefined }), (id, suffix) => {
        const slackId = suffix === undefined ? id : `${id}#${suffix}`;
        const out = neutralActionId(slackId);
        expect(slackId.startsWith(out)).toBe(true);
        expect(out).not.toContain('#');
        if (!id.includes('#')) expect(out).toBe(id);
      }),
    );
  });
});

// ── Request security ──

const FEISHU_KEY = 'fuzz-encrypt-key';
const feishuSign = (ts: string, nonce: string, body: string, key = FEISHU_KEY) => createHash('sha256').update(ts + nonce + key + body).digest('hex');
const maybeText = fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 64, maxLength: 64 })), { nil: undefined });

describe('request signatures and encryption (Feishu crypto, DingTalk sign)', () => {
  it('verifyFeishuSignature never throws; true only for the signature over exactly those bytes', () => {
    fc.assert(
      fc.property(maybeText, maybeText, maybeText, anyText, (timestamp, nonce, signature, rawBody) => {
        const ok = verifyFeishuSignature({ timestamp, nonce, signature, rawBody }, FEISHU_KEY);
        if (ok) expect(signature?.toLowerCase()).toBe(feishuSign(timestamp!, nonce!, rawBody));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ minLength: 1, maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.nat(), (ts, nonce, body, i) => {
        const sig = feishuSign(ts, nonce, body);
        expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: sig, rawBody: body }, FEISHU_KEY)).toBe(true);
        expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: sig.toUpperCase(), rawBody: body }, FEISHU_KEY)).toBe(true);
        // Any other byte, any other key, any flipped digit: refused.
        expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: sig, rawBody: `${body} ` }, FEISHU_KEY)).toBe(false);
        expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: sig, rawBody: body }, `${FEISHU_KEY}x`)).toBe(false);
        const at = i % 64;
        const flipped = `${sig.slice(0, at)}${sig[at] === '0' ? '1' : '0'}${sig.slice(at + 1)}`;
        expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: flipped, rawBody: body }, FEISHU_KEY)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('decryptFeishu throws only FeishuDecryptError, and opens what Feishu seals', () => {
    const sealed = (plain: Buffer) => {
      const iv = randomBytes(16);
      const c = createCipheriv('aes-256-cbc', createHash('sha256').update(FEISHU_KEY).digest(), iv);
      return Buffer.concat([iv, c.update(plain), c.final()]).toString('base64');
    };
    fc.assert(
      fc.property(fc.oneof(anyText, fc.base64String({ maxLength: 200 }), fc.uint8Array({ maxLength: 120 }).map((b) => sealed(Buffer.from(b)))), fc.constantFrom(FEISHU_KEY, '', 'other'), (encrypted, key) => {
        try {
          decryptFeishu(encrypted, key);
        } catch (err) {
          expect(err).toBeInstanceOf(FeishuDecryptError);
        }
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(jsonish, (value) => {
        const json = JSON.stringify(value);
        // Compared as JSON: -0 is sent as 0.
        expect(decryptFeishu(sealed(Buffer.from(json)), FEISHU_KEY)).toEqual(JSON.parse(json));
      }),
      { numRuns: 300 },
    );
  });

  it('tokenOf and sameSecret never throw; sameSecret is equality', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), jsonish, fc.record({ header: wrongType, token: wrongType }, { requiredKeys: [] })), (payload) => {
        const t = tokenOf(payload);
        if (t !== undefined) expect(typeof t).toBe('string');
      }),
    );
    // Well-formed text only: hashing maps every lone surrogate to U+FFFD, so two different lone
    // halves compare equal; a configured token is never such text.
    const token = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('t', 'feishu-verification-token'));
    fc.assert(
      fc.property(fc.option(token, { nil: undefined }), token, (a, b) => {
        expect(sameSecret(a, b)).toBe(a === b);
      }),
    );
  });

  it('verifyDingTalkSignature never throws; ok only for the HMAC of that timestamp, inside the hour', () => {
    const SECRET = 'fuzz-dingtalk-secret';
    const sign = (ts: string, secret = SECRET) => createHmac('sha256', secret).update(`${ts}\n${secret}`, 'utf8').digest('base64');
    const NOW = 1_735_000_000_000;
    fc.assert(
      fc.property(fc.option(fc.oneof(anyText, fc.integer({ min: 0, max: 2 * NOW }).map(String)), { nil: undefined }), fc.option(fc.oneof(anyText, fc.base64String({ minLength: 44, maxLength: 44 })), { nil: undefined }), fc.oneof(fc.constant(NOW), fc.double()), fc.constantFrom(SECRET, ''), (timestamp, s, now, secret) => {
        const r = verifyDingTalkSignature({ timestamp, sign: s }, secret, now);
        expect(['ok', 'missing', 'bad', 'stale']).toContain(r);
        if (r === 'ok') {
          expect(s).toBe(sign(timestamp!));
          expect(Math.abs(now - Number(timestamp))).toBeLessThanOrEqual(MAX_SKEW_MS);
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: NOW - 2 * MAX_SKEW_MS, max: NOW + 2 * MAX_SKEW_MS }), (ts) => {
        const expected = Math.abs(NOW - ts) <= MAX_SKEW_MS ? 'ok' : 'stale';
        expect(verifyDingTalkSignature({ timestamp: String(ts), sign: sign(String(ts)) }, SECRET, NOW)).toBe(expected);
        expect(verifyDingTalkSignature({ timestamp: String(ts), sign: sign(String(ts), `${SECRET}x`) }, SECRET, NOW)).toBe('bad');
      }),
    );
  });
});

// ── The policy file ──

type Path = (string | number)[];

/** Every path into a document (objects and arrays), the root included. */
function pathsOf(value: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...at, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...at, k]));
  return out;
}

/** A mutation of a policy document: a value replaced, a key dropped, or a key added. */
type PolicyEdit = { op: 'set' | 'drop' | 'add'; at: number; key: string; value: unknown };
/** Values that are almost right for some field of the policy: durations, zones, people, wrong types. */
const policyValue = fc.oneof(
  fc.constantFrom('15m', '0m', '-5m', '4h', '2d', '1.5h', 'never', 'UTC', 'Mars/Olympus', 'Asia/Shanghai', 'zh-CN', 'fr', 'zhang.san', 'nobody', 'l2', 'P1', 'incident_manager', '09:00', '24:00', '25:00', '2026-02-30', '2026-10-01', 'memo', ':memo:', 'INC', '+8613800000000', 'a@b', 0.75, 1, 0, -1, 2, true, null),
  fc.array(fc.constantFrom('zhang.san', 'li.wei', 'nobody', 'P1', 'mon', 'xyz', 1), { maxLength: 3 }),
  wrongType,
);
const policyKey = fc.constantFrom(
  'locale', 'timeZone', 'people', 'tiers', 'roles', 'key_users', 'sla', 'escalation_matrix', 'auto_close_after', 'approval_categories', 'major_incidents', 'defaults',
  'desk', 'l1', 'l2', 'l3', 'members', 'queue', 'on_duty', 'rotation', 'people', 'every', 'starting', 'name', 'slack', 'feishu', 'dingtalk', 'console', 'email', 'mobile',
  'warn_at', 'targets', 'business_hours_for', 'business_hours', 'time_zone', 'days', 'start', 'end', 'holidays', 'workdays', 'P1', 'P4', 'after', 'tier', 'role',
  'update_every', 'archive_after', 'review_due_after', 'note_reaction', 'room_prefix', 'category', 'impact', 'urgency', 'system', '__proto__', 'constructor', 'extra',
);
const policyEdit: fc.Arbitrary<PolicyEdit> = fc.record({ op: fc.constantFrom('set', 'set', 'drop', 'add'), at: fc.nat(), key: policyKey, value: policyValue });

function applyEdit(doc: unknown, edit: PolicyEdit): unknown {
  const paths = pathsOf(doc);
  const path = paths[edit.at % paths.length]!;
  if (path.length === 0) return edit.op === 'set' ? edit.value : doc;
  const parentPath = path.slice(0, -1);
  let parent: any = doc;
  for (const k of parentPath) parent = parent[k];
  const last = path[path.length - 1]!;
  if (edit.op === 'set') parent[last] = edit.value;
  else if (edit.op === 'drop') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  }
  else if (parent[last] && typeof parent[last] === 'object' && !Array.isArray(parent[last])) Object.defineProperty(parent[last], edit.key, { value: edit.value, enumerable: true, writable: true, configurable: true });
  return doc;
}

/** The policy file shipped with Firebell, as an operator starts from it. */
const EXAMPLE_FILE = fileURLToPath(new URL('../../firebell.example.yaml', import.meta.url));
const exampleDoc = parseYaml(readFileSync(EXAMPLE_FILE, 'utf8')) as unknown;
/** A policy document: the test policy or the shipped example, then a few random edits. */
const policyDoc = fc
  .tuple(fc.constantFrom('test', 'example'), fc.array(policyEdit, { maxLength: 6 }))
  .map(([seed, edits]) => edits.reduce(applyEdit, seed === 'test' ? (structuredClone(testPolicyDoc()) as unknown) : structuredClone(exampleDoc)));

/** A built policy is usable: every section the flows read is there with the right types. */
function expectUsable(p: Policy) {
  for (const tier of TIERS) expect(Array.isArray(p.tiers[tier].members)).toBe(true);
  for (const pr of PRIORITIES) {
    expect(Number.isFinite(p.sla.targets[pr].responseMs) && Number.isFinite(p.sla.targets[pr].resolutionMs)).toBe(true);
    expect(Array.isArray(p.escalationMatrix[pr])).toBe(true);
  }
  expect(LOCALES).toContain(p.locale);
  expect(Number.isFinite(p.autoCloseAfterMs)).toBe(true);
  for (const [key, person] of Object.entries(p.people)) expect(person.key).toBe(key);
}

/** The loader's contract: a usable Policy, or a PolicyError naming problems; never anything else. */
function expectPolicyOrPolicyError(load: () => Policy) {
  let built: Policy;
  try {
    built = load();
  } catch (err) {
    expect(err, String((err as Error)?.stack ?? err)).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).message.length).toBeGreaterThan(0);
    return;
  }
  expectUsable(built);
}

describe('the policy file (buildPolicy, loadPolicyFile)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'firebell-policy-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('buildPolicy on any value throws only PolicyError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), jsonish, wrongType), (doc) => {
        expectPolicyOrPolicyError(() => buildPolicy(doc));
      }),
      { numRuns: 1000 },
    );
  });

  it('buildPolicy on mutated real policies throws only PolicyError, or builds a usable policy', () => {
    let built = 0;
    fc.assert(
      fc.property(policyDoc, (doc) => {
        let ok = false;
        expectPolicyOrPolicyError(() => {
          const p = buildPolicy(doc);
          ok = true;
          return p;
        });
        if (ok) built++;
      }),
      { numRuns: 600 },
    );
    // The edits must leave some documents valid, or only the refusals were tested.
    expect(built).toBeGreaterThan(20);
  });

  it('loadPolicyFile on edited YAML text throws only PolicyError', () => {
    const yamlText = fc
      .tuple(fc.constantFrom(stringifyYaml(testPolicyDoc()), readFileSync(EXAMPLE_FILE, 'utf8')), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.oneof(fc.constantFrom(':', '- ', '  ', '\n', '*a', '&a ', '!!binary ', '{', '[', '"', "'", '#', '? ', '---\n', '<<: *a\n', '\t'), edgeText, utf16Text)), { maxLength: 4 }))
      .map(([text, edits]) => edits.reduce((t, [at, cut, insert]) => { const i = at % (t.length + 1); return `${t.slice(0, i)}${insert}${t.slice(i + cut)}`; }, text));
    let n = 0;
    // yaml reports odd-but-legal input (an alias ending in ':') as process warnings: not failures, only noise here.
    const quiet = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    onTestFinished(() => quiet.mockRestore());
    fc.assert(
      fc.property(yamlText, (text) => {
        const file = join(dir, `policy-${n++}.yaml`);
        writeFileSync(file, text, 'utf8');
        expectPolicyOrPolicyError(() => loadPolicyFile(file));
      }),
      { numRuns: 100 },
    );
    expectPolicyOrPolicyError(() => loadPolicyFile(join(dir, 'missing.yaml')));
  });
});
