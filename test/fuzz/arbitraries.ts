/**
 * Generators shared by the fuzz files (issue 7), so that every file throws the same inputs at its
 * target: what people type (in both languages), what platforms send (JSON of any shape), and near
 * misses of Firebell's own encodings (a real command with one token wrong, a button value with one
 * field wrong).
 */
import fc from 'fast-check';
import type { TypedAction } from '../../src/flows/commands/parse';
import { PRIORITIES, RESOLUTION_CODES, TIERS } from '../../src/flows/incident/model';
import { TEST_PEOPLE } from '../support/policy';

// ── Text ──

/** One UTF-16 code unit at a time: the only way to get lone surrogate halves, which JSON can carry (`"\ud800"`). */
export const utf16Text = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** Text that sits on the edges of the parsers: JS whitespace they must trim, limits they must cut at. */
export const edgeText = fc.constantFrom(
  '',
  ' ',
  '\u00a0',
  '\u3000',
  '\t\n',
  '\r\n',
  '\r',
  '\u200b',
  '\ufeff',
  '\u2028',
  '👩‍💻',
  '🇨🇳',
  'x'.repeat(3001),
  '🔥'.repeat(151),
  `${'长'.repeat(149)}🔥🔥`,
  '/incident',
  '/firebell help',
  '@_user_1',
  '|',
  '||',
  '{number}',
);

/** Any text at all, NULs and lone surrogates included. */
export const anyText = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 2, arbitrary: utf16Text },
  { weight: 2, arbitrary: edgeText },
);

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text PostgreSQL can hold: no NUL and no lone surrogate. Firebell does not strip those yet (see
 * regressions.fuzz.test.ts); the flow properties keep to storable text so that they test the rest.
 */
export function storable(s: string): string {
  return s.replace(/\u0000/g, '').replace(LONE_SURROGATE, '\ufffd');
}

/** Text people type, as the database can keep it; never braces, so a left-over `{placeholder}` in a reply is ours. */
export const personText = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('printer jammed', '三楼打印机卡纸', 'VPN 断线', 'because', '需要厂商支持', 'DNS down again', '已恢复', 'ok') },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: edgeText },
).map((s) => storable(s).replace(/[{}]/g, ''));

// ── Commands ──

/** The sub-command words parse.ts knows (ALIASES), English and Chinese. */
export const SUB_COMMAND_WORDS = [
  'major', '重大', '重大事件', 'update', '进展', '更新', 'note', '记录', '备注', 'link', '关联', '报告', 'sla', '时效', '时限',
  'priority', '优先级', 'help', '?', '帮助', 'list', 'ls', '列表', 'status', 'st', '状态', 'report', '报障',
] as const;

/** The typed card actions parse.ts knows (ACTION_VERBS), and what each means. */
export const ACTION_WORDS: Record<string, TypedAction> = {
  accept: 'incident.accept', 受理: 'incident.accept', 接单: 'incident.accept',
  escalate: 'incident.escalate', 升级: 'incident.escalate',
  resolve: 'incident.resolve', 解决: 'incident.resolve',
  reject: 'incident.reject', 驳回: 'incident.reject',
  reopen: 'incident.reopen', 重开: 'incident.reopen', 重新打开: 'incident.reopen',
  hold: 'incident.hold', 挂起: 'incident.hold',
  resume: 'incident.resume', 恢复: 'incident.resume',
  confirm: 'incident.confirm', 确认: 'incident.confirm',
  rate: 'incident.rate', 评分: 'incident.rate',
  approve: 'request.approve', 批准: 'request.approve',
  deny: 'request.deny', 拒绝: 'request.deny',
  join: 'war_room.join', 加入: 'war_room.join',
  reassign: 'incident.reassign', 转派: 'incident.reassign',
  'confirm-major': 'major.confirm', 确认重大: 'major.confirm',
  downgrade: 'major.downgrade', 降级: 'major.downgrade',
};

export const COMMAND_WORDS: readonly string[] = [...SUB_COMMAND_WORDS, ...Object.keys(ACTION_WORDS)];

/** A command word as people type it: as listed, shouted, or one letter off (a near miss). */
export const commandWord = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...COMMAND_WORDS) },
  { weight: 1, arbitrary: fc.constantFrom(...COMMAND_WORDS).map((w) => w.toUpperCase()) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...COMMAND_WORDS), fc.constantFrom('s', '-', '！', '?', '1')).map(([w, x]) => `${w}${x}`) },
);

/** An incident reference as typed, in every spelling parseIncidentNumber accepts, and near misses of them. */
export function numberRef(n: fc.Arbitrary<number>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: n.map((x) => `INC-${x}`) },
    { weight: 1, arbitrary: n.map((x) => `inc-${x}`) },
    { weight: 1, arbitrary: n.map((x) => `inc${x}`) },
    { weight: 1, arbitrary: n.map((x) => `#${x}`) },
    { weight: 1, arbitrary: n.map((x) => `${x}`) },
    { weight: 1, arbitrary: n.map((x) => `INC-${x}x`) },
    { weight: 1, arbitrary: fc.constantFrom('INC-', '#', 'INC--1', 'INC-1.5', 'INC-１', '#12a', 'inc-0', 'INC-9999999999999', 'INC-007', '＃3') },
  );
}

const PERSON_KEYS = Object.keys(TEST_PEOPLE);

/** The arguments commands take: numbers, priorities, codes, tiers, people, `md`, scores, words. */
export function commandToken(n: fc.Arbitrary<number>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: numberRef(n) },
    { weight: 1, arbitrary: fc.constantFrom(...PRIORITIES, 'p2', 'P5', 'P0') },
    { weight: 1, arbitrary: fc.constantFrom(...RESOLUTION_CODES, 'FIXED', 'broken') },
    { weight: 1, arbitrary: fc.constantFrom(...TIERS, 'L2', 'l9') },
    { weight: 1, arbitrary: fc.constantFrom(...PERSON_KEYS, 'nobody') },
    { weight: 1, arbitrary: fc.constantFrom('md', 'markdown', 'MD', '1', '3', '5', '0', '6', '2.5') },
    { weight: 2, arbitrary: personText.filter((s) => s.trim().length > 0) },
  );
}

/** How words are separated: spaces, tabs, new lines, no-break and ideographic spaces. */
export const separator = fc.constantFrom(' ', ' ', ' ', '  ', '\t', '\n', '\u00a0', '\u3000', ' \r\n ');

/** A line as a person types it to the bot: a real command word and its arguments. */
export function commandLine(n: fc.Arbitrary<number>): fc.Arbitrary<string> {
  return fc
    .tuple(commandWord, fc.array(fc.tuple(separator, commandToken(n)), { maxLength: 4 }), fc.constantFrom('', ' ', '\n'))
    .map(([word, rest, end]) => `${word}${rest.map(([sep, tok]) => `${sep}${tok}`).join('')}${end}`);
}

// ── JSON from platforms ──

/**
 * Whether a value holds an object with its own `toString` or `valueOf`: JSON such as
 * `{"toString": 1}` makes `String(x)` throw, and some handlers call it on what platforms send
 * (regressions.fuzz.test.ts). The other properties keep such values out so that they test the rest.
 */
export function hasConversionTrap(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasConversionTrap);
  if (!value || typeof value !== 'object') return false;
  if (Object.prototype.hasOwnProperty.call(value, 'toString') || Object.prototype.hasOwnProperty.call(value, 'valueOf')) return true;
  return Object.values(value).some(hasConversionTrap);
}

/** JSON values of any shape, as a platform could send them. */
export const jsonish: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 4 }).filter((v) => !hasConversionTrap(v));

/** A value of the wrong type for a field that should be a string. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, '', [], {}, ['a'], { text: 'x' }),
  fc.integer(),
  jsonish,
);
