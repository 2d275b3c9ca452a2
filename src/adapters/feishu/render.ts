/**
 * Neutral cards and forms as Feishu (Lark) interactive cards, card JSON 2.0 (issue 5;
 * PLATFORMS.md §5). Pure: no I/O, no clock; the same input always gives the same card.
 *
 * - `renderCard`: header (title, colour by accent), the body as markdown, the fields two to a row,
 *   context lines small and grey, then the buttons (callback behaviours carrying
 *   `{action, value}`) or, on a decided card, the outcome line. The whole card is kept under the
 *   30 KB request limit by trimming the body, then the context, then trailing fields (never the
 *   buttons or the first fields), each with a warning instead of a failure.
 * - `renderForm`: a `form` container with inputs and selects; its submit button carries
 *   `{action: 'form.submit', form, context}` and Feishu adds the values as `action.form_value`.
 * - `readFormValues`, `decodeCallbackValue`: the way back, refusing anything that is not ours.
 * - `renderText`: the `content` of a `msg_type: 'text'` message.
 *
 * Feishu JSON 2.0 refuses unknown properties ("传入不支持的属性将报错"), so only documented
 * properties are used.
 */
import type { ActionId, CardField, FormField, NeutralCard, NeutralForm } from '../../flows/messages/card';
import { ACTION_IDS, decodeButtonValue } from '../../flows/messages/card';
import { largest, oneLine } from '../../flows/messages/format';
import type { Locale } from '../../flows/policy/policy';
import { CHAT_APPLINK, FEISHU_LIMITS as L } from './limits';

export type FeishuCard = Record<string, unknown>;
type Element = Record<string, unknown>;

export interface RenderedFeishuCard {
  /** The card JSON: `JSON.stringify` it as the message `content`, or send it as `{type:'raw', data}`. */
  card: FeishuCard;
  /** One line for notifications and the chat list. */
  fallbackText: string;
  warnings: string[];
}

export interface FeishuRenderOptions {
  /** Language of the few words render adds itself (the "shortened" note). Default `zh-CN`. */
  locale?: Locale;
  /** AppLink base that opens a chat (`CHAT_APPLINK.lark` for larksuite.com). Default Feishu's. */
  chatApplink?: string;
}

/** The callback `action` of a form's submit and cancel buttons (not neutral action ids). */
export const FORM_SUBMIT_ACTION = 'form.submit';
export const FORM_CANCEL_ACTION = 'form.cancel';
/** `name` of the form container and of its submit button (names must be unique in a card). */
export const FORM_NAME = 'firebell_form';
export const FORM_SUBMIT_NAME = 'firebell_submit';

// ---------------------------------------------------------------------------------------------
// Text helpers

function chars(text: string): string[] {
  return Array.from(text);
}

function cut(text: string, max: number, warnings: string[], what: string): string {
  const c = chars(text);
  if (c.length <= max) return text;
  warnings.push(`${what} cut to ${max} characters`);
  return `${c.slice(0, Math.max(0, max - 1)).join('')}…`;
}

const MD_ESCAPES: Record<string, string> = {
  '&': '&#38;',
  '<': '&#60;',
  '>': '&#62;',
  '*': '&#42;',
  _: '&#95;',
  '~': '&#126;',
  '`': '&#96;',
  '[': '&#91;',
  ']': '&#93;',
  '|': '&#124;',
  '\\': '&#92;',
};

/**
 * User text made inert for a Feishu markdown component. Feishu's card markdown reads `*`, `~`,
 * `<…>` tags (`<at id=all>`, `<font>`, `<link>`), `[…](…)` links, `:EMOJI:` and so on; Feishu's
 * card reference says to show such characters as HTML character references (`<` → `&#60;`,
 * `*` → `&#42;`). Characters that only mean something in one position are escaped there only,
 * so times ("09:00") and names ("Li Wei (L1)") stay as typed: a `:` before a letter (an emoji
 * code), and line-start heading, list and numbered-list markers. `(` needs no escape once `[` has.
 */
export function escapeFeishuMarkdown(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[&<>*_~`[\]|\\]/g, (ch) => MD_ESCAPES[ch] ?? ch)
    .replace(/:(?=[A-Za-z])/g, '&#58;')
    .replace(/^([ \t]*)([-+=#])/gm, (_m, sp: string, mark: string) => `${sp}&#${mark.charCodeAt(0)};`)
    .replace(/^([ \t]*\d+)\./gm, '$1&#46;');
}


function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * Bytes a card takes in a send-message request: the card is sent as the JSON string `content`,
 * so it is serialised twice (every quote escaped). The 30 KB limit applies to this.
 */
export function cardRequestBytes(card: FeishuCard): number {
  return utf8Bytes(JSON.stringify(JSON.stringify(card)));
}

/** Components and elements in a card body, counted the way the 200 limit reads: every `tag`. */
export function countComponents(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countComponents(v), 0);
  if (!value || typeof value !== 'object') return 0;
  let n = 'tag' in value ? 1 : 0;
  for (const v of Object.values(value)) n += countComponents(v);
  return n;
}

const SHORTENED: Record<Locale, string> = {
  'zh-CN': '（内容过长，已截断）',
  en: '(shortened to fit the card)',
};

// ---------------------------------------------------------------------------------------------
// Cards

const TEMPLATE: Record<NeutralCard['accent'], string> = {
  critical: 'red',
  high: 'orange',
  medium: 'yellow',
  low: 'grey',
  done: 'green',
};

const BUTTON_TYPE: Record<'primary' | 'danger' | 'default', string> = {
  primary: 'primary',
  danger: 'danger',
  default: 'default',
};

const CHAT_ID = /^oc_[A-Za-z0-9_-]{1,64}$/;

function plain(content: string): Element {
  return { tag: 'plain_text', content };
}

function fieldMarkdown(f: CardField, applink: string, warnings: string[]): string {
  const label = escapeFeishuMarkdown(cut(f.label, L.fieldLabel, warnings, `field label "${f.label.slice(0, 20)}"`));
  const raw = cut(f.value, L.fieldValue, warnings, `field "${f.label.slice(0, 20)}"`);
  let value = escapeFeishuMarkdown(raw);
  // A war room on Feishu: link it (AppLink "open a chat page" by openChatId); a room on another
  // platform, or an id that is not a chat id, stays its plain name.
  if (f.channel?.platform === 'feishu' && CHAT_ID.test(f.channel.id)) {
    value = `[${value}](${applink}?openChatId=${f.channel.id})`;
  }
  return `**${label}**\n${value}`;
}

function column(elements: Element[]): Element {
  return { tag: 'column', width: 'weighted', weight: 1, vertical_align: 'top', elements };
}

/** What a card is made of after the per-item cuts; trimming shrinks these, then it is built. */
interface Parts {
  title: string;
  template: string;
  summary: string;
  body: string;
  fields: string[];
  context: string[];
  outcome: string;
  buttons: Element[];
}

function build(p: Parts): FeishuCard {
  const elements: Element[] = [];
  if (p.body) elements.push({ tag: 'markdown', content: p.body });
  for (let i = 0; i < p.fields.length; i += 2) {
    const pair = p.fields.slice(i, i + 2);
    elements.push({
      tag: 'column_set',
      flex_mode: 'none',
      horizontal_spacing: '12px',
      columns: [column([{ tag: 'markdown', content: pair[0] }]), column(pair[1] !== undefined ? [{ tag: 'markdown', content: pair[1] }] : [])],
    });
  }
  if (p.context.length) {
    elements.push({
      tag: 'markdown',
      text_size: 'notation',
      content: p.context.map((c) => `<font color='grey'>${c}</font>`).join('\n'),
    });
  }
  if (p.buttons.length || p.outcome) elements.push({ tag: 'hr' });
  if (p.buttons.length) {
    elements.push({
      tag: 'column_set',
      flex_mode: 'flow',
      horizontal_spacing: '8px',
      columns: p.buttons.map((b) => ({ tag: 'column', width: 'auto', elements: [b] })),
    });
  } else if (p.outcome) {
    elements.push({ tag: 'markdown', content: p.outcome });
  }
  return {
    schema: '2.0',
    // JSON 2.0 cards are shared cards only: update_multi must be true.
    config: { update_multi: true, summary: { content: p.summary } },
    header: { title: plain(p.title), template: p.template },
    body: { elements },
  };
}

function fits(card: FeishuCard): boolean {
  return cardRequestBytes(card) <= L.cardRequestBytes - L.envelopeReserveBytes && countComponents(card.body) <= L.cardComponents;
}


/**
 * A neutral card as a Feishu card JSON 2.0. Pure. Buttons carry
 * `behaviors: [{type:'callback', value:{action, value}}]`; Feishu returns that object as
 * `action.value` in `card.action.trigger` (read it back with `decodeCallbackValue`).
 */
export function renderCard(card: NeutralCard, opts: FeishuRenderOptions = {}): RenderedFeishuCard {
  const warnings: string[] = [];
  const locale = opts.locale ?? 'zh-CN';
  const applink = opts.chatApplink ?? CHAT_APPLINK.feishu;

  const fallbackText = cut(oneLine(card.fallback || card.title), L.summaryText, warnings, 'fallback text');
  const title = cut(oneLine(card.title), L.headerTitle, warnings, 'title');
  const bodyRaw = cut(card.body.trim(), L.bodyText, warnings, 'body');
  const fields = card.fields.map((f) => fieldMarkdown(f, applink, warnings));
  if (card.context.length > L.contextLines) warnings.push(`context cut to ${L.contextLines} lines`);
  const context = card.context.slice(0, L.contextLines).map((c) => escapeFeishuMarkdown(cut(oneLine(c), L.contextLine, warnings, 'context')));
  const outcomeRaw = card.outcome ? cut(card.outcome.trim(), L.outcomeText, warnings, 'outcome') : '';
  const outcomeMd = (raw: string) =>
    raw
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => `**${escapeFeishuMarkdown(l)}**`)
      .join('\n');

  if (card.buttons.length > L.buttons) warnings.push(`buttons cut to ${L.buttons}`);
  const buttons = card.buttons.slice(0, L.buttons).map((b) => ({
    tag: 'button',
    text: plain(cut(b.label, L.buttonText, warnings, 'button')),
    type: BUTTON_TYPE[b.style],
    behaviors: [{ type: 'callback', value: { action: b.actionId, value: b.value } }],
  }));

  const parts: Parts = {
    title,
    template: TEMPLATE[card.accent],
    summary: fallbackText,
    body: escapeFeishuMarkdown(bodyRaw),
    fields,
    context,
    outcome: outcomeMd(outcomeRaw),
    buttons: card.buttons.length ? buttons : [],
  };

  let built = build(parts);
  if (fits(built)) return { card: built, fallbackText, warnings };

  // 1. The body: keep as much of it as fits, marked as shortened.
  const bodyChars = chars(bodyRaw);
  if (bodyChars.length) {
    const note = SHORTENED[locale];
    const bodyAt = (n: number) => escapeFeishuMarkdown(n >= bodyChars.length ? bodyRaw : `${bodyChars.slice(0, n).join('')}… ${note}`);
    const n = largest(bodyChars.length, (k) => fits(build({ ...parts, body: bodyAt(k) })));
    const kept = Math.max(0, n);
    if (kept < bodyChars.length) {
      parts.body = kept > 0 ? bodyAt(kept) : '';
      warnings.push(`body trimmed to ${kept} characters to fit Feishu's card limits (30 KB, 200 components)`);
    }
    built = build(parts);
    if (fits(built)) return { card: built, fallbackText, warnings };
  }

  // 2. The context lines, last first.
  while (parts.context.length && !fits(built)) {
    parts.context = parts.context.slice(0, -1);
    built = build(parts);
    warnings.push(`context line dropped to fit Feishu's card limits`);
  }
  if (fits(built)) return { card: built, fallbackText, warnings };

  // 3. Trailing fields, never the first ones.
  while (parts.fields.length > L.keptFields && !fits(built)) {
    parts.fields = parts.fields.slice(0, -1);
    built = build(parts);
    warnings.push(`field dropped to fit Feishu's card limits`);
  }
  if (fits(built)) return { card: built, fallbackText, warnings };

  // 4. The outcome line of a decided card.
  if (outcomeRaw) {
    const oc = chars(outcomeRaw);
    const n = Math.max(0, largest(oc.length, (k) => fits(build({ ...parts, outcome: outcomeMd(`${oc.slice(0, k).join('')}…`) }))));
    parts.outcome = outcomeMd(`${oc.slice(0, n).join('')}…`);
    built = build(parts);
    warnings.push(`outcome trimmed to ${n} characters to fit Feishu's card limits`);
  }
  if (!fits(built)) warnings.push(`card is still over Feishu's limits (${cardRequestBytes(built)} bytes, ${countComponents(built.body)} components)`);
  return { card: built, fallbackText, warnings };
}

// ---------------------------------------------------------------------------------------------
// Forms

function formComponent(f: FormField, warnings: string[]): Element {
  const required = !f.optional;
  const placeholder = f.placeholder ? { placeholder: plain(cut(f.placeholder, L.placeholderText, warnings, 'placeholder')) } : {};
  if (f.kind === 'select') {
    const all = f.options ?? [];
    if (all.length > L.selectOptions) warnings.push(`${f.id}: options cut to ${L.selectOptions}`);
    const options = all.slice(0, L.selectOptions).map((o) => ({ text: plain(o.label), value: o.value }));
    const initial = f.initial !== undefined && options.some((o) => o.value === f.initial) ? { initial_option: f.initial } : {};
    return { tag: 'select_static', name: f.id, required, width: 'fill', ...placeholder, options, ...initial };
  }
  // Text, multiline, a person typed by name, and a time: the card's datetime picker hands back
  // its own format ("2024-04-29 07:07 +0800") whose form_value shape we could not confirm, so a
  // time is typed as "YYYY-MM-DD HH:mm" in the deployment's zone, like on the console.
  const wanted = f.kind === 'datetime' ? 40 : (f.maxLength ?? L.inputMaxLength);
  if (wanted > L.inputMaxLength) warnings.push(`${f.id}: Feishu inputs take at most ${L.inputMaxLength} characters (the form allows ${wanted})`);
  const datetimePlaceholder = f.kind === 'datetime' && !f.placeholder ? { placeholder: plain('YYYY-MM-DD HH:mm') } : {};
  return {
    tag: 'input',
    name: f.id,
    required,
    width: 'fill',
    input_type: f.kind === 'multiline' ? 'multiline_text' : 'text',
    max_length: Math.max(1, Math.min(wanted, L.inputMaxLength)),
    ...placeholder,
    ...datetimePlaceholder,
    ...(f.initial ? { default_value: cut(f.initial, L.inputMaxLength, warnings, `${f.id} initial value`) } : {}),
  };
}

/**
 * A neutral form as a card with a `form` container. `context` is opaque to render (the JSON of the
 * FormContext); it travels in the submit button's callback value and comes back with
 * `action.form_value`. Required fields use the components' own `required` (the client refuses to
 * submit without them). Throws only on a context too long to carry (a programming error).
 */
export function renderForm(form: NeutralForm, context: string, cancelLabel: string): { card: FeishuCard; warnings: string[] } {
  const warnings: string[] = [];
  if (context.length > L.formContext) throw new Error('form context exceeds the callback value budget');
  const inner: Element[] = [];
  for (const f of form.fields) {
    const label = escapeFeishuMarkdown(cut(f.label, L.formLabel, warnings, 'label'));
    inner.push({ tag: 'markdown', content: `**${label}**${f.optional ? '' : " <font color='red'>&#42;</font>"}` });
    inner.push(formComponent(f, warnings));
  }
  inner.push({
    tag: 'button',
    name: FORM_SUBMIT_NAME,
    text: plain(cut(form.submit, L.buttonText, warnings, 'submit')),
    type: 'primary',
    form_action_type: 'submit',
    behaviors: [{ type: 'callback', value: { action: FORM_SUBMIT_ACTION, form: form.id, context } }],
  });
  const card: FeishuCard = {
    schema: '2.0',
    config: { update_multi: true, summary: { content: cut(oneLine(form.title), L.summaryText, warnings, 'summary') } },
    header: { title: plain(cut(oneLine(form.title), L.headerTitle, warnings, 'title')), template: 'blue' },
    body: {
      elements: [
        { tag: 'form', name: FORM_NAME, elements: inner },
        // Outside the form: inside it every button must submit or reset the form.
        {
          tag: 'button',
          text: plain(cut(cancelLabel, L.buttonText, warnings, 'cancel')),
          type: 'default',
          behaviors: [{ type: 'callback', value: { action: FORM_CANCEL_ACTION, form: form.id, context } }],
        },
      ],
    },
  };
  if (!fits(card)) warnings.push(`form card is over Feishu's limits (${cardRequestBytes(card)} bytes, ${countComponents(card.body)} components)`);
  return { card, warnings };
}

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The callback's `action.form_value` (component name → the typed text, or the chosen option's
 * value) as the flat values `commandFromForm` / `reportFromForm` read. Anything else is ignored:
 * names that are not field ids, arrays (multi-selects, which Firebell does not use), numbers,
 * over-long strings. An object carrying `value` or `option` is read as that string.
 */
export function readFormValues(formValue: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  let raw = formValue;
  if (typeof raw === 'string' && raw.length <= L.formValue * 4) {
    try {
      raw = JSON.parse(raw);
    } catch {
      return out;
    }
  }
  if (!isRecord(raw)) return out;
  for (const [name, v] of Object.entries(raw)) {
    if (!FIELD_NAME.test(name)) continue;
    const s = typeof v === 'string' ? v : isRecord(v) ? (typeof v.value === 'string' ? v.value : typeof v.option === 'string' ? v.option : undefined) : undefined;
    if (s === undefined || s.length > L.formValue) continue;
    out[name] = s;
  }
  return out;
}

export type DecodedCallback =
  | { actionId: ActionId; value: string }
  | { formSubmit: true; form: NeutralForm['id']; context: string }
  | { formCancel: true; form: NeutralForm['id']; context: string };

function sameKeys(v: Record<string, unknown>, keys: string[]): boolean {
  const own = Object.keys(v);
  return own.length === keys.length && keys.every((k) => own.includes(k));
}

function isFormId(v: unknown): v is NeutralForm['id'] {
  return v === 'report' || (typeof v === 'string' && (ACTION_IDS as readonly string[]).includes(v));
}

/**
 * What a clicked button carried (`action.value`), or null when it is not exactly one of ours:
 * unknown action, extra or missing keys, a button value `decodeButtonValue` refuses, a form id
 * or context that is not Firebell's. Never throws.
 */
export function decodeCallbackValue(value: unknown): DecodedCallback | null {
  let v = value;
  if (typeof v === 'string') {
    if (v.length > L.formContext * 2) return null;
    try {
      v = JSON.parse(v);
    } catch {
      return null;
    }
  }
  if (!isRecord(v)) return null;
  const action = v.action;
  if (action === FORM_SUBMIT_ACTION || action === FORM_CANCEL_ACTION) {
    if (!sameKeys(v, ['action', 'form', 'context'])) return null;
    const { form, context } = v;
    if (!isFormId(form) || typeof context !== 'string' || context.length > L.formContext) return null;
    try {
      if (!isRecord(JSON.parse(context))) return null;
    } catch {
      return null;
    }
    return action === FORM_SUBMIT_ACTION ? { formSubmit: true, form, context } : { formCancel: true, form, context };
  }
  if (typeof action !== 'string' || !(ACTION_IDS as readonly string[]).includes(action)) return null;
  if (!sameKeys(v, ['action', 'value'])) return null;
  if (typeof v.value !== 'string' || !decodeButtonValue(v.value)) return null;
  return { actionId: action as ActionId, value: v.value };
}

// ---------------------------------------------------------------------------------------------
// Text messages

/**
 * A reply as the `content` of a `msg_type: 'text'` message (`{"text": …}` as a JSON string).
 *
 * Firebell's catalog marks emphasis Slack-style (`*bold*`). We send plain text and drop the
 * markers rather than build a `post`: a post needs a title and per-locale paragraphs of tagged
 * runs, shows differently in notifications and previews, and a reply is short enough that the
 * emphasis carries little. Text messages read `<at user_id="…">` tags, so any `<` that could open
 * a tag gets a zero-width space after it: user text (a title) cannot mention people. The result
 * is cut to fit the 150 KB text request limit.
 */
export function renderText(text: string): string {
  const plainText = text
    .replace(/\r\n?/g, '\n')
    .replace(/(^|[^\w*])\*([^*\n]+?)\*(?![\w*])/gm, (_m, pre: string, inner: string) => `${pre}${inner}`)
    .replace(/<(?=\/?[A-Za-z])/g, '<\u200b');
  const budget = L.textRequestBytes - L.envelopeReserveBytes;
  const size = (s: string) => utf8Bytes(JSON.stringify(JSON.stringify({ text: s })));
  if (size(plainText) <= budget) return JSON.stringify({ text: plainText });
  const c = chars(plainText);
  const n = Math.max(0, largest(c.length, (k) => size(`${c.slice(0, k).join('')}…`) <= budget));
  return JSON.stringify({ text: `${c.slice(0, n).join('')}…` });
}
