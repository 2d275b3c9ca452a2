/**
 * Pure text rendering for the console chat: neutral cards as boxed text, form questions, replies.
 * Colour is opt-in (`color: true`); callers decide with `colorEnabled()` (TTY and no NO_COLOR).
 */
import type { CardButton, FormField, NeutralCard, NeutralForm } from '../../flows/messages/card';
import type { Locale } from '../../flows/policy/policy';
import type { Target } from '../../flows/effects';
import { ui } from './strings';

/** How text is rendered: with ANSI colours or not, and how wide a line may get. */
export interface RenderOptions {
  /** ANSI colours and bold; false (the default) gives plain text. */
  color?: boolean;
  /** Wrap width in terminal columns (default 80). */
  width?: number;
}

/** Console line width when nothing else is known. */
export const DEFAULT_WIDTH = 80;

/**
 * Whether to colour output written to `stream`: only on a TTY, and never when the `NO_COLOR`
 * environment variable is set to a non-empty value (https://no-color.org).
 */
export function colorEnabled(stream: { isTTY?: boolean } | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream?.isTTY === true;
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
} as const;

/** A styling function: wraps text in ANSI codes when colour is on, returns it unchanged otherwise. */
export type Paint = (style: keyof typeof CODES, text: string) => string;

/** The paint function for these options. */
export function painter(opts: RenderOptions = {}): Paint {
  if (!opts.color) return (_style, text) => text;
  return (style, text) => (text ? `\u001b[${CODES[style][0]}m${text}\u001b[${CODES[style][1]}m` : text);
}

const ACCENT_STYLE: Record<NeutralCard['accent'], keyof typeof CODES> = {
  critical: 'red',
  high: 'magenta',
  medium: 'yellow',
  low: 'gray',
  done: 'green',
};

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Terminal columns `text` takes: CJK and full-width characters count two, ANSI codes none. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text.replace(/\u001b\[[0-9;]*m/g, '')) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0x300 && cp < 0x370) || cp === 0x200b) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

const SEGMENT = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[^\s\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]+|\s+/gu;

/**
 * Wraps text to `width` columns: at spaces for words, between characters for CJK text, and hard
 * inside a word longer than a line. Existing line breaks are kept. Never returns an empty array.
 */
export function wrap(text: string, width: number): string[] {
  const max = Math.max(8, width);
  const out: string[] = [];
  for (const para of text.split(/\r?\n/)) {
    let line = '';
    let lineWidth = 0;
    let space = false;
    const push = () => {
      out.push(line);
      line = '';
      lineWidth = 0;
      space = false;
    };
    for (const seg of para.match(SEGMENT) ?? []) {
      if (/^\s+$/.test(seg)) {
        space = lineWidth > 0;
        continue;
      }
      const w = displayWidth(seg);
      const gap = space ? 1 : 0;
      if (lineWidth > 0 && lineWidth + gap + w > max) push();
      else if (space) {
        line += ' ';
        lineWidth += 1;
      }
      space = false;
      if (w <= max - lineWidth) {
        line += seg;
        lineWidth += w;
        continue;
      }
      for (const ch of seg) {
        const cw = displayWidth(ch);
        if (lineWidth + cw > max) push();
        line += ch;
        lineWidth += cw;
      }
    }
    out.push(line);
  }
  return out;
}

/** `#desk` for a channel, `@li.wei` for a person (a leading `#`/`@` already there is kept). */
export function targetLabel(target: Target): string {
  const prefix = target.type === 'channel' ? '#' : '@';
  return target.id.startsWith(prefix) ? target.id : `${prefix}${target.id}`;
}

/** Slack-style `*bold*` and `_italic_` markers as console text (bold when colour is on). */
export function plainText(text: string, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  return text.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/gm, (_m, pre: string, inner: string) => `${pre}${paint('bold', inner)}`);
}

function buttonText(button: CardButton, ref: string | null, paint: Paint): string {
  const label = button.style === 'primary' ? paint('green', button.label) : button.style === 'danger' ? paint('red', button.label) : button.label;
  return ref ? `${paint('bold', `[${ref}]`)} ${label}` : `[${label}]`;
}

/** Lays out tokens separated by two spaces, wrapping between tokens at `width` columns. */
function flow(tokens: string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const tok of tokens) {
    if (line && displayWidth(line) + 2 + displayWidth(tok) > width) {
      lines.push(line);
      line = tok;
    } else line = line ? `${line}  ${tok}` : tok;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * A neutral card as boxed text: title, body, `label: value` fields, context lines, and either the
 * buttons as `[3.1] Accept  [3.2] Resolve …` (card number . button index, from 1) or, on a decided
 * card, its outcome line. With `cardNo` null the buttons are shown unnumbered (not pressable).
 */
export function renderCard(card: NeutralCard, cardNo: number | null, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  const width = opts.width ?? DEFAULT_WIDTH;
  const inner = width - 2;
  const bar = (s: string) => paint(ACCENT_STYLE[card.accent], s);
  const lines: string[] = [];
  const add = (text: string, style?: keyof typeof CODES) => {
    for (const l of wrap(text, inner)) lines.push(`${bar('│')} ${style ? paint(style, l) : l}`.trimEnd());
  };

  const number = cardNo === null ? '' : `${paint('bold', `[${cardNo}]`)} `;
  const titleLines = wrap(card.title, width - 3 - (cardNo === null ? 0 : String(cardNo).length + 3));
  const head = [`${bar('╭─')} ${number}${paint('bold', titleLines[0] ?? '')}`];
  for (const more of titleLines.slice(1)) head.push(`${bar('│')} ${paint('bold', more)}`);

  if (card.body.trim()) {
    add(card.body.trim());
    lines.push(bar('│'));
  }
  for (const field of card.fields) {
    wrap(`${field.label}: ${field.value}`, inner - 2).forEach((l, i) => lines.push(`${bar('│')} ${i === 0 ? '' : '  '}${l}`.trimEnd()));
  }
  for (const c of card.context) add(c, 'dim');
  if (card.buttons.length) {
    const tokens = card.buttons.map((b, i) => buttonText(b, cardNo === null ? null : `${cardNo}.${i + 1}`, paint));
    for (const l of flow(tokens, inner)) lines.push(`${bar('│')} ${l}`);
  } else if (card.outcome) {
    const [first = '', ...rest] = card.outcome.split('\n');
    wrap(first, inner - 2).forEach((l, i) => lines.push(`${bar('│')} ${i === 0 ? '» ' : '  '}${paint('bold', l)}`.trimEnd()));
    for (const r of rest) for (const l of wrap(r, inner - 2)) lines.push(`${bar('│')}   ${l}`.trimEnd());
  }
  return [...head, ...lines, bar('╰─')].join('\n');
}

/** The heading of a form being walked: its title and how to answer. */
export function renderFormTitle(form: NeutralForm, locale: Locale, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  return `${paint('bold', `┌ ${form.title}`)}\n${paint('dim', `│ ${ui(locale, 'console.form.intro')}`)}`;
}

/** The label shown for an option's value (the value itself when it is not a choice). */
export function optionLabel(field: FormField, value: string): string {
  return field.options?.find((o) => o.value === value)?.label ?? value;
}

/**
 * One form question: the label with its hints (optional, what Enter keeps) and, for a select,
 * the numbered choices. The answer is typed on the line after it (see `FIELD_PROMPT`).
 */
export function renderFieldQuestion(field: FormField, locale: Locale, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  const hints: string[] = [];
  if (field.options?.length) hints.push(ui(locale, 'console.form.choose'));
  if (field.initial) hints.push(ui(locale, 'console.form.keep', { value: optionLabel(field, field.initial) }));
  else if (field.optional) hints.push(ui(locale, 'console.form.optional'));
  const placeholder = field.placeholder?.trim();
  if (!field.options?.length && placeholder && placeholder !== field.initial && !field.label.includes(placeholder)) hints.push(placeholder);
  const lines = [`${paint('bold', '│')} ${paint('bold', field.label)}${hints.length ? paint('dim', ` (${hints.join('; ')})`) : ''}`];
  field.options?.forEach((o, i) => {
    const mark = o.value === field.initial ? '*' : ' ';
    lines.push(`${paint('bold', '│')}  ${mark}${String(i + 1).padStart(2)}) ${o.label}`);
  });
  return lines.join('\n');
}

/** The prompt an answer to a form question is typed after. */
export const FIELD_PROMPT = '│ > ';

/**
 * A reply from the bot: refusals marked `✖` (red with colour), other answers `›`; Slack-style
 * `*bold*` becomes plain (or bold) text; later lines are indented under the first.
 */
export function renderReply(text: string, refused: boolean, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  const mark = refused ? paint('red', '✖') : paint('cyan', '›');
  const [first = '', ...rest] = plainText(text, opts).split('\n');
  return [`${mark} ${refused ? paint('red', first) : first}`, ...rest.map((l) => `  ${l}`)].join('\n');
}

/** A console notice (the console's own words, not the bot's): dimmed with colour. */
export function renderNotice(text: string, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  return text
    .split('\n')
    .map((l) => paint('dim', l))
    .join('\n');
}
