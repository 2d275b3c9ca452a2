/**
 * Neutral cards, forms and replies as DingTalk payloads (PLATFORMS.md §7). Pure: no I/O, no clock;
 * the same input always gives the same output, and content never makes it throw: anything too long
 * is cut to DingTalk's limits and reported as a warning (the Feishu renderer's house style).
 *
 * - `renderCardParams`: the `cardParamMap` of an interactive card made from Firebell's card
 *   template (`POST /v1.0/card/instances/createAndDeliver`, `PUT /v1.0/card/instances`). Every
 *   value is a string, as DingTalk requires; the buttons travel as one JSON string the template
 *   loops over, each calling back with `{action, value}`.
 * - `renderActionCard`: the fallback when no template is configured, a robot message
 *   (`groupMessages/send`, `oToMessages/batchSend`) whose buttons are
 *   `dtmd://dingtalkclient/sendMessage?content=…` links: a click makes the person's client send
 *   the action's typed command (`受理 INC-12`), which the bot already understands.
 * - `renderFormText`: DingTalk bots cannot show forms, so a form becomes "reply with this".
 * - `renderText`: a reply as `sampleText`, or `sampleMarkdown` when it is a headed list.
 * - `typedCommand`: the command a button stands for, in the person's language.
 *
 * DingTalk facts used here (sources in `DINGTALK_LIMITS` and on each function):
 * - Robot message templates (help.dingtalk.io "Message types for enterprise bots",
 *   open.dingtalk.com/document/development/robot-message-type): `sampleText {content}`,
 *   `sampleMarkdown {title, text}`, `sampleActionCard {title, text, singleTitle, singleURL}` (one
 *   button), `sampleActionCard2` … `sampleActionCard5 {title, text, actionTitleN, actionURLN}`
 *   (two to five buttons, stacked), and `sampleActionCard6 {title, text, buttonTitle1, buttonUrl1,
 *   buttonTitle2, buttonUrl2}`, which is two buttons side by side, not six. So a robot card holds
 *   at most five buttons.
 * - `title` of markdown and ActionCard messages only shows in the chat list and notifications,
 *   not in the message itself, so the text repeats it as a heading.
 * - Robot markdown is a subset: `#` headings, `>` quotes, `**bold**`, `*italic*`, `[text](url)`,
 *   `![](img)`, `-` and `1.` lists, and `<font>` tags; there is no documented way to escape
 *   these, so user text is made inert by changing the characters (`escapeDingTalkMarkdown`).
 */
import { parseIncidentNumber } from '../../flows/commands/parse';
import type { ActionId, CardButton, CardField, FormField, NeutralCard, NeutralForm } from '../../flows/messages/card';
import { t, type MessageKey } from '../../flows/messages/catalog';
import { largest, oneLine } from '../../flows/messages/format';
import type { Locale } from '../../flows/policy/policy';

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * The limits render keeps every payload inside, with where each number comes from.
 *
 * Documented by DingTalk:
 * - `POST /v1.0/robot/groupMessages/send`, field `msgParam`: "The length must not exceed 15,000
 *   bytes" (help.dingtalk.io/open/development/the-robot-sends-a-group-message). The 1:1
 *   `oToMessages/batchSend` page gives no number; the same bound is used for it.
 *
 * Borrowed from DingTalk's sibling ActionCard message (the work-notification `action_card` model
 * of DingTalk's TOP API SDK): "透出到会话列表和通知的文案，最长64个字符" (title at most 64
 * characters), button titles "最长20个字符" (at most 20), link URLs "最长500个字符" (at most 500).
 * The robot templates' pages give no numbers of their own.
 *
 * Not found: any limit on one `cardParamMap` value. A third-party project's spec claims 1 KB,
 * which DingTalk's own AI-card samples contradict (they stream whole answers into one value).
 * `cardValueBytes` is ours, a conservative bound: about 1,600 Chinese characters of card text,
 * and the whole map stays under the 15,000 bytes DingTalk allows a robot message's parameters.
 *
 * The rest are Firebell's own caps, as in the Feishu renderer, marked "ours".
 */
export const DINGTALK_LIMITS = {
  /** `msgParam` of a robot message, as UTF-8 bytes of its JSON (documented, group send). */
  msgParamBytes: 15_000,
  /** Robot message `title` (chat list and notification), characters (borrowed, 64). */
  robotTitle: 64,
  /** Robot ActionCard button title, characters (borrowed, 20); also the card template's. */
  buttonText: 20,
  /** Robot ActionCard button URL, characters (borrowed, 500). */
  buttonUrl: 500,
  /** Buttons of a robot ActionCard: `sampleActionCard2` … `sampleActionCard5` stack 2 to 5. */
  robotButtons: 5,
  /** One `cardParamMap` value, UTF-8 bytes. Ours: no DingTalk number found (see above). */
  cardValueBytes: 5_000,
  /** Card title, characters. Ours. */
  cardTitle: 200,
  /** The one-line summary (`summary`), characters. Ours. */
  summaryText: 200,
  /** Body text before any trimming, characters. Ours. */
  bodyText: 10_000,
  /** A field's label / value, characters. Ours. */
  fieldLabel: 100,
  fieldValue: 1000,
  /** Context lines shown, and characters each. Ours. */
  contextLines: 10,
  contextLine: 500,
  /** The outcome line(s) of a decided card, characters. Ours. */
  outcomeText: 2000,
  /** Buttons on a template card, and typed commands listed under a robot card. Ours. */
  cardButtons: 10,
  /** Fields never dropped when a card is trimmed to fit. Ours. */
  keptFields: 8,
  /** People listed in the typed reassign instructions. Ours. */
  formPeople: 20,
} as const;

const L = DINGTALK_LIMITS;

// ---------------------------------------------------------------------------------------------
// Strings

/** The renderer's own words, from the message catalog (`dingtalk.*`). */
export type DingTalkStringKey = Extract<MessageKey, `dingtalk.${string}`>;

function s(locale: Locale, key: DingTalkStringKey, params: Record<string, string> = {}): string {
  return t(locale, key, params);
}

// ---------------------------------------------------------------------------------------------
// Typed commands

/**
 * The verb of each action's typed form, as `src/flows/commands/parse.ts` reads it (`ACTION_VERBS`,
 * and the `major` / `update` sub-commands). `war_room.roles` has none: roles need two people
 * picked from a list, which a command line does not offer.
 */
const VERBS: Record<Locale, Partial<Record<ActionId, string>>> = {
  'zh-CN': {
    'incident.accept': '受理',
    'incident.escalate': '升级',
    'incident.resolve': '解决',
    'incident.reject': '驳回',
    'incident.reopen': '重开',
    'incident.hold': '挂起',
    'incident.resume': '恢复',
    'incident.confirm': '确认',
    'incident.rate': '评分',
    'request.approve': '批准',
    'request.deny': '拒绝',
    'war_room.join': '加入',
    'incident.reassign': '转派',
    'incident.declare_major': '重大',
    'war_room.update': '进展',
    'major.confirm': '确认重大',
    'major.downgrade': '降级',
  },
  en: {
    'incident.accept': 'accept',
    'incident.escalate': 'escalate',
    'incident.resolve': 'resolve',
    'incident.reject': 'reject',
    'incident.reopen': 'reopen',
    'incident.hold': 'hold',
    'incident.resume': 'resume',
    'incident.confirm': 'confirm',
    'incident.rate': 'rate',
    'request.approve': 'approve',
    'request.deny': 'deny',
    'war_room.join': 'join',
    'incident.reassign': 'reassign',
    'incident.declare_major': 'major',
    'war_room.update': 'update',
    'major.confirm': 'confirm-major',
    'major.downgrade': 'downgrade',
  },
};

/** The word that files a report (`report <text>` / `报障 <text>`, parse.ts `ALIASES`). */
const REPORT_VERB: Record<Locale, string> = { 'zh-CN': '报障', en: 'report' };

/**
 * The typed form of an action on incident `number` (`受理 INC-12`, `rate INC-12 5`), or null when
 * the action has none (`war_room.roles`) or `number` is not an incident number. The number is
 * normalised the way the parser reads it (`#12`, `inc-12` → `INC-12`). `arg` is only used by
 * `incident.rate` (the score, 1 to 5); any other score is left out, and the bot then answers with
 * the rating usage. Actions that need a reason (`升级 INC-12`) answer with their form, which
 * DingTalk shows as `renderFormText`.
 */
export function typedCommand(actionId: ActionId, number: string, arg: string | undefined, locale: Locale): string | null {
  const n = parseIncidentNumber(number ?? '');
  const verb = VERBS[locale]?.[actionId];
  if (!n || !verb) return null;
  if (actionId === 'incident.rate') {
    const score = arg?.trim() ?? '';
    return /^[1-5]$/.test(score) ? `${verb} ${n} ${score}` : `${verb} ${n}`;
  }
  return `${verb} ${n}`;
}

/**
 * The link that makes the DingTalk client send `content` as the person's own message in the
 * current chat (`dtmd://dingtalkclient/sendMessage?content=<urlencoded>`, DingTalk's message-link
 * protocol for robot markdown). `content` is URL-encoded in full, `!'()*` included, so it cannot
 * end the markdown link early.
 */
export function dtmdSendMessageUrl(content: string): string {
  const encoded = encodeURIComponent(content).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `dtmd://dingtalkclient/sendMessage?content=${encoded}`;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

function chars(text: string): string[] {
  return Array.from(text);
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function cut(text: string, max: number, warnings: string[], what: string): string {
  const c = chars(text);
  if (c.length <= max) return text;
  warnings.push(`${what} cut to ${max} characters`);
  return `${c.slice(0, Math.max(0, max - 1)).join('')}…`;
}



/** The longest prefix of `text` that, with `…`, passes `fits`; `text` itself when it fits. */
function cutToFit(text: string, fits: (t: string) => boolean): string {
  if (fits(text)) return text;
  const c = chars(text);
  const n = Math.max(0, largest(c.length, (k) => fits(`${c.slice(0, k).join('')}…`)));
  return `${c.slice(0, n).join('')}…`;
}

/**
 * Slack-style references in catalog texts as plain text: `<@U123|li.wei>` → `@li.wei`,
 * `<@U123>` → `@U123`, `<#C123|desk>` → `#desk`, `<!here>` → `@here`. DingTalk robot messages
 * mention people only through `at` lists, never through text.
 */
function slackToPlain(text: string): string {
  return text
    .replace(/<@([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `@${name || id}`)
    .replace(/<#([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `#${name || id}`)
    .replace(/<!(here|channel|everyone)(?:\|[^>]*)?>/g, '@$1');
}

/** Slack-style `*bold*`: a run of `*` … `*` not inside a word (the Feishu renderer's reading). */
const SLACK_BOLD = /(^|[^\w*])\*([^*\n]+?)\*(?![\w*])/gm;

/** Text with Slack-style `*bold*` markers dropped. */
function dropBold(text: string): string {
  return text.replace(SLACK_BOLD, (_m, pre: string, inner: string) => `${pre}${inner}`);
}

/**
 * User text made inert for DingTalk markdown. DingTalk documents no escape for its markdown, so
 * the characters that would start markup are changed instead: `*` becomes `∗` (U+2217), and a
 * zero-width space (U+200B) is put inside the other sequences, so they no longer match but still
 * read the same: `](` (a link or image), `<` before a letter (`<font>` tags), doubled `_`, `~`
 * and `` ` ``, and `#`, `>`, `-`, `+`, `=` or `1.` at the start of a line (headings, quotes, lists).
 */
export function escapeDingTalkMarkdown(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\*/g, '\u2217')
    .replace(/\]\(/g, ']\u200b(')
    .replace(/<(?=[A-Za-z/!?])/g, '<\u200b')
    .replace(/([_~`])(?=\1)/g, '$1\u200b')
    .replace(/^([ \t]*)([#>+=-]|\d+[.)])/gm, '$1\u200b$2');
}

/**
 * A catalog text (possibly carrying user text in its parameters) as DingTalk markdown: Slack-style
 * `*bold*` becomes `**bold**`, references become plain text, everything else is escaped, and line
 * breaks are kept (two trailing spaces make a markdown hard break).
 */
function toMarkdown(text: string): string {
  const plain = slackToPlain(text.replace(/\r\n?/g, '\n'));
  let out = '';
  let last = 0;
  for (const m of plain.matchAll(SLACK_BOLD)) {
    const start = m.index + m[1]!.length;
    out += `${escapeDingTalkMarkdown(plain.slice(last, start))}**${escapeDingTalkMarkdown(m[2]!)}**`;
    last = start + m[2]!.length + 2;
  }
  out += escapeDingTalkMarkdown(plain.slice(last));
  return out.replace(/\n/g, '  \n');
}

/** Plain one-line text for titles, button labels and the summary. */
function plainLine(text: string): string {
  return oneLine(dropBold(slackToPlain(text)));
}

// ---------------------------------------------------------------------------------------------
// Card markdown

/** Colour per accent for the card template (P1 red … P4 grey, closed green). */
const COLORS: Record<NeutralCard['accent'], string> = {
  critical: '#F5222D',
  high: '#FA8C16',
  medium: '#FAAD14',
  low: '#8C8C8C',
  done: '#52C41A',
};

/** The accent of a robot card, which has no colour: a marker before its heading. */
const MARKS: Record<NeutralCard['accent'], string> = {
  critical: '🔴',
  high: '🟠',
  medium: '🟡',
  low: '⚪',
  done: '✅',
};

const BUTTON_STYLE: Record<CardButton['style'], 'primary' | 'danger' | 'normal'> = {
  primary: 'primary',
  danger: 'danger',
  default: 'normal',
};

/** A card's content after the per-item cuts, as markdown pieces; trimming shrinks these. */
interface Parts {
  body: string;
  fields: string[];
  context: string[];
  outcome: string;
}

function joinParts(p: Parts): string {
  const sections: string[] = [];
  if (p.body) sections.push(p.body);
  if (p.fields.length) sections.push(p.fields.join('  \n'));
  if (p.context.length) sections.push(p.context.join('  \n'));
  if (p.outcome) sections.push(p.outcome);
  return sections.join('\n\n');
}

function fieldLine(f: CardField, locale: Locale, warnings: string[]): string {
  const label = plainLine(cut(f.label, L.fieldLabel, warnings, `field label "${f.label.slice(0, 20)}"`));
  const value = oneLine(cut(f.value, L.fieldValue, warnings, `field "${f.label.slice(0, 20)}"`));
  // A war room stays its plain name: a DingTalk group cannot be linked from robot markdown
  // without an app link we could not confirm.
  return `**${escapeDingTalkMarkdown(label)}**${s(locale, 'dingtalk.field_separator')}${toMarkdown(value)}`;
}

/** The card's text before any trimming, and its raw body (trimming shortens the body first). */
function cardParts(card: NeutralCard, locale: Locale, warnings: string[]): { parts: Parts; bodyRaw: string; outcomeRaw: string } {
  const bodyRaw = cut((card.body ?? '').trim(), L.bodyText, warnings, 'body');
  const context = card.context ?? [];
  if (context.length > L.contextLines) warnings.push(`context cut to ${L.contextLines} lines`);
  const outcomeRaw = card.outcome ? cut(card.outcome.trim(), L.outcomeText, warnings, 'outcome') : '';
  return {
    bodyRaw,
    outcomeRaw,
    parts: {
      body: toMarkdown(bodyRaw),
      fields: (card.fields ?? []).map((f) => fieldLine(f, locale, warnings)),
      context: context.slice(0, L.contextLines).map((c) => toMarkdown(oneLine(cut(c, L.contextLine, warnings, 'context')))),
      outcome: outcomeMarkdown(outcomeRaw),
    },
  };
}

/** The outcome of a decided card, each line in bold. */
function outcomeMarkdown(raw: string): string {
  return raw
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => `**${toMarkdown(dropBold(l))}**`)
    .join('  \n');
}

/**
 * The card's markdown, as much of it as passes `fits`: the body is shortened first (marked as
 * shortened), then context lines go from the last, then trailing fields (never the first
 * `keptFields`), then the outcome is shortened; a last hard cut guarantees the result fits.
 */
function fitMarkdown(parts: Parts, bodyRaw: string, outcomeRaw: string, locale: Locale, fits: (md: string) => boolean, warnings: string[], limit: string): string {
  const p: Parts = { ...parts, fields: [...parts.fields], context: [...parts.context] };
  if (fits(joinParts(p))) return joinParts(p);

  const body = chars(bodyRaw);
  if (body.length) {
    const note = s(locale, 'dingtalk.shortened');
    const bodyAt = (n: number) => toMarkdown(`${body.slice(0, n).join('')}… ${note}`);
    const n = largest(body.length, (k) => fits(joinParts({ ...p, body: bodyAt(k) })));
    const kept = Math.max(0, n);
    p.body = kept > 0 ? bodyAt(kept) : '';
    warnings.push(`body trimmed to ${kept} characters to fit ${limit}`);
    if (fits(joinParts(p))) return joinParts(p);
  }
  while (p.context.length && !fits(joinParts(p))) {
    p.context.pop();
    warnings.push(`context line dropped to fit ${limit}`);
  }
  while (p.fields.length > L.keptFields && !fits(joinParts(p))) {
    p.fields.pop();
    warnings.push(`field dropped to fit ${limit}`);
  }
  if (fits(joinParts(p))) return joinParts(p);
  if (outcomeRaw) {
    const oc = chars(outcomeRaw);
    const n = Math.max(0, largest(oc.length, (k) => fits(joinParts({ ...p, outcome: outcomeMarkdown(`${oc.slice(0, k).join('')}…`) }))));
    p.outcome = outcomeMarkdown(`${oc.slice(0, n).join('')}…`);
    warnings.push(`outcome trimmed to ${n} characters to fit ${limit}`);
    if (fits(joinParts(p))) return joinParts(p);
  }
  warnings.push(`card text cut to fit ${limit}`);
  return cutToFit(joinParts(p), fits);
}

// ---------------------------------------------------------------------------------------------
// Interactive card (template)

export interface DingTalkRenderOptions {
  /** Language of the few words render adds itself. */
  locale: Locale;
}

/** One button of the template card's `buttons` parameter. */
export interface DingTalkCardButton {
  text: string;
  style: 'primary' | 'danger' | 'normal';
  /** The neutral action id; the template sends it back as callback param `action`. */
  action: ActionId;
  /** The neutral button value (`encodeButtonValue`); sent back as callback param `value`. */
  value: string;
}

/**
 * A neutral card as the `cardParamMap` of an interactive card made from Firebell's card template
 * (built by the admin in DingTalk's card builder; `createAndDeliver` / `PUT /v1.0/card/instances`).
 * DingTalk takes only string values in `cardParamMap` (PLATFORMS.md §7a), so every value is one:
 *
 * - `title`: the card title, one line.
 * - `accent`: the neutral accent word (`critical` … `done`); `color`: a hex colour for it.
 * - `markdown`: the body, the fields as `**label**：value` lines, the context lines and the
 *   outcome, in DingTalk markdown.
 * - `summary`: the card's one-line fallback text.
 * - `buttons`: a JSON array `[{text, style: primary|danger|normal, action, value}]` the template
 *   loops over; each button calls back with params `{action, value}`.
 * - `hasButtons`: `"true"` or `"false"`; `outcome`: the decided card's outcome line, or `""`.
 *
 * Each value is kept under `DINGTALK_LIMITS.cardValueBytes` (no DingTalk number found; ours):
 * the markdown is trimmed body first, the button list loses trailing buttons, never half a JSON.
 */
export function renderCardParams(card: NeutralCard, opts: DingTalkRenderOptions): { params: Record<string, string>; warnings: string[] } {
  const warnings: string[] = [];
  const locale = opts.locale;
  const byteFits = (v: string) => utf8Bytes(v) <= L.cardValueBytes;

  const title = cut(plainLine(card.title ?? ''), L.cardTitle, warnings, 'title');
  const summary = cut(plainLine(card.fallback || card.title || ''), L.summaryText, warnings, 'summary');
  const { parts, bodyRaw, outcomeRaw } = cardParts(card, locale, warnings);
  const markdown = fitMarkdown(parts, bodyRaw, outcomeRaw, locale, byteFits, warnings, `the ${L.cardValueBytes}-byte card value budget`);

  const all = card.buttons ?? [];
  if (all.length > L.cardButtons) warnings.push(`buttons cut to ${L.cardButtons}`);
  const buttons: DingTalkCardButton[] = all.slice(0, L.cardButtons).map((b) => ({
    text: cut(plainLine(b.label), L.buttonText, warnings, 'button'),
    style: BUTTON_STYLE[b.style] ?? 'normal',
    action: b.actionId,
    value: b.value,
  }));
  while (buttons.length && !byteFits(JSON.stringify(buttons))) {
    buttons.pop();
    warnings.push('button dropped to fit the card value budget');
  }

  const outcome = cutToFit(plainLine(outcomeRaw), byteFits);
  const params: Record<string, string> = {
    title,
    accent: String(card.accent),
    color: COLORS[card.accent] ?? COLORS.low,
    markdown,
    summary,
    buttons: JSON.stringify(buttons),
    hasButtons: buttons.length ? 'true' : 'false',
    outcome,
  };
  return { params, warnings };
}

// ---------------------------------------------------------------------------------------------
// Robot ActionCard (no template)

export interface DingTalkActionCardOptions extends DingTalkRenderOptions {
  /**
   * Put before every typed command a button sends (for example `@Firebell `). In a group
   * DingTalk delivers only messages that @mention the robot, and a `dtmd` link sends plain text;
   * whether a typed `@name` counts as a mention is not confirmed, so none is added by default.
   */
  commandPrefix?: string;
}

/**
 * A neutral card as a robot message, for when no card template is configured. Buttons cannot call
 * back from a robot message, so each is a `dtmd://dingtalkclient/sendMessage?content=…` link whose
 * content is the action's typed command (`typedCommand`): a click makes the person send it, and the
 * bot acts on the incident as it is then (a typed command cannot be stale).
 *
 * Message template by the number of buttons kept (help.dingtalk.io "Message types for enterprise
 * bots"): none → `sampleMarkdown {title, text}`; one → `sampleActionCard {title, text,
 * singleTitle, singleURL}`; two to five → `sampleActionCard2` … `sampleActionCard5 {title, text,
 * actionTitle1, actionURL1, …}`. There is no six-button template (`sampleActionCard6` is two
 * buttons side by side), so a sixth button onwards is left out with a warning; every command
 * still shows in the line of typed commands under the text, for clients where the links do not
 * work. `war_room.roles` has no typed form and is left out. `msgParam` is returned as an object:
 * the sender JSON-encodes it; its JSON stays under the documented 15,000 bytes.
 */
export function renderActionCard(card: NeutralCard, opts: DingTalkActionCardOptions): { msgKey: string; msgParam: Record<string, string>; warnings: string[] } {
  const warnings: string[] = [];
  const locale = opts.locale;
  const prefix = opts.commandPrefix ?? '';

  const commands: { label: string; command: string }[] = [];
  const buttons = card.buttons ?? [];
  const number = card.number ? parseIncidentNumber(card.number) : null;
  if (buttons.length && !number) warnings.push('card has no incident number: its buttons cannot be typed and are left out');
  for (const b of number ? buttons : []) {
    const command = typedCommand(b.actionId, number!, b.value.split('|')[2], locale);
    if (!command) {
      warnings.push(`${b.actionId}: no typed form on DingTalk; button left out`);
      continue;
    }
    if (commands.some((c) => c.command === command)) continue;
    commands.push({ label: cut(plainLine(b.label), L.buttonText, warnings, 'button'), command });
  }
  if (commands.length > L.robotButtons) {
    warnings.push(`buttons cut to ${L.robotButtons}: DingTalk robot ActionCards hold at most ${L.robotButtons} (sampleActionCard5); the others are in the typed commands line`);
  }
  const linked = commands.filter((c) => {
    const ok = dtmdSendMessageUrl(prefix + c.command).length <= L.buttonUrl;
    if (!ok) warnings.push(`${c.command}: link longer than ${L.buttonUrl} characters; button left out`);
    return ok;
  });
  const shown = linked.slice(0, L.robotButtons);

  const title = cut(plainLine(card.title ?? '') || plainLine(card.fallback ?? ''), L.robotTitle, warnings, 'title');
  const heading = `### ${MARKS[card.accent] ?? MARKS.low} ${escapeDingTalkMarkdown(cut(plainLine(card.title ?? ''), L.cardTitle, warnings, 'heading'))}`;
  if (commands.length > L.cardButtons) warnings.push(`typed commands cut to ${L.cardButtons}`);
  const typed = commands
    .slice(0, L.cardButtons)
    .map((c) => `[${escapeDingTalkMarkdown(c.command)}](${dtmdSendMessageUrl(prefix + c.command)})`)
    .join(' · ');
  const tail = typed ? s(locale, 'dingtalk.typed_commands', { commands: typed }) : '';

  const msgKey = shown.length === 0 ? 'sampleMarkdown' : shown.length === 1 ? 'sampleActionCard' : `sampleActionCard${shown.length}`;
  const buttonParams: Record<string, string> = {};
  if (shown.length === 1) {
    buttonParams.singleTitle = shown[0]!.label;
    buttonParams.singleURL = dtmdSendMessageUrl(prefix + shown[0]!.command);
  } else {
    shown.forEach((c, i) => {
      buttonParams[`actionTitle${i + 1}`] = c.label;
      buttonParams[`actionURL${i + 1}`] = dtmdSendMessageUrl(prefix + c.command);
    });
  }
  const textOf = (md: string) => [heading, md, tail].filter(Boolean).join('\n\n');
  const paramOf = (text: string): Record<string, string> => ({ title, text, ...buttonParams });
  const fits = (text: string) => utf8Bytes(JSON.stringify(paramOf(text))) <= L.msgParamBytes;

  const { parts, bodyRaw, outcomeRaw } = cardParts(card, locale, warnings);
  const md = fitMarkdown(parts, bodyRaw, outcomeRaw, locale, (m) => fits(textOf(m)), warnings, `the ${L.msgParamBytes}-byte msgParam limit`);
  let text = textOf(md);
  if (!fits(text)) {
    warnings.push(`text cut to fit the ${L.msgParamBytes}-byte msgParam limit`);
    text = cutToFit(text, fits);
  }
  return { msgKey, msgParam: paramOf(text), warnings };
}

// ---------------------------------------------------------------------------------------------
// Forms

function optionsText(field: FormField | undefined, locale: Locale, value: (v: string) => string = (v) => v): string[] {
  return (field?.options ?? []).map((o) => {
    const v = value(o.value);
    const label = plainLine(o.label);
    return label && label !== v ? s(locale, 'dingtalk.option', { value: v, label }) : v;
  });
}

/**
 * What to type instead of a form: DingTalk robots cannot show forms or inputs, so the person is
 * told the typed command that completes the action, with its choices where there are some
 * (`解决 INC-12 [代码] <说明>` lists the resolution codes; `转派` the tiers and people). Plain text,
 * no markup: send it with `renderText`. Wait-until times and roles cannot be typed (the parser
 * reads `挂起 INC-12 <原因>` as the reason; roles need a pick list): hold omits the time, roles
 * says so. `number` null (or a form for something without a typed form) uses a placeholder.
 */
export function renderFormText(form: NeutralForm, number: string | null, locale: Locale): string {
  const title = plainLine(form.title ?? '');
  const hint = s(locale, 'dingtalk.group_hint');
  const sep = s(locale, 'dingtalk.list_separator');
  if (form.id === 'report') {
    return [s(locale, 'dingtalk.form.report', { command: `${REPORT_VERB[locale]} ${s(locale, 'dingtalk.arg.report')}` }), hint].join('\n');
  }
  const verb = VERBS[locale]?.[form.id];
  if (!verb) return s(locale, 'dingtalk.form.unsupported', { title });
  const ref = (number && parseIncidentNumber(number)) || s(locale, 'dingtalk.arg.number');
  const reply = (args: string) => s(locale, 'dingtalk.form.reply', { title, command: `${verb} ${ref}${args ? ` ${args}` : ''}` });
  const field = (id: string) => form.fields.find((f) => f.id === id);
  const lines: string[] = [];
  switch (form.id) {
    case 'incident.resolve': {
      lines.push(reply(s(locale, 'dingtalk.arg.note')));
      const codes = optionsText(field('code'), locale);
      if (codes.length) lines.push(s(locale, 'dingtalk.form.codes', { codes: codes.join(sep) }));
      break;
    }
    case 'incident.reassign': {
      lines.push(reply(s(locale, 'dingtalk.arg.target')));
      const tiers = optionsText(field('tier'), locale);
      if (tiers.length) lines.push(s(locale, 'dingtalk.form.tiers', { tiers: tiers.join(sep) }));
      // Person options carry `tier:key`; the typed form takes the key.
      const people = optionsText(field('person'), locale, (v) => v.slice(v.indexOf(':') + 1));
      if (people.length) {
        const listed = people.slice(0, L.formPeople).join(sep);
        lines.push(s(locale, 'dingtalk.form.people', { people: people.length > L.formPeople ? `${listed}${sep}…` : listed }));
      }
      break;
    }
    case 'war_room.update':
      lines.push(reply(s(locale, 'dingtalk.arg.text')));
      break;
    default: {
      // Every other form asks for a reason (escalate, reject, reopen, hold, deny, downgrade).
      const needsReason = form.fields.some((f) => f.id === 'reason');
      lines.push(reply(needsReason ? s(locale, 'dingtalk.arg.reason') : ''));
    }
  }
  lines.push(hint);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Text replies

/** A line that starts with a Slack-style bold run: a heading in Firebell's catalog texts. */
const HEADED_LINE = /^\s*\*[^*\n]+\*(?![\w*])/;

/**
 * A reply as a robot message. Most replies are one sentence: `sampleText {content}`, with
 * Slack-style `*bold*` markers dropped (text messages show no markup) and references as plain
 * text. A reply of several lines of which one starts with a bold heading (help, the SLA view, the
 * risk list) reads better as `sampleMarkdown {title, text}`: headings in `**bold**`, every line
 * kept (hard breaks), everything else escaped; its `title` (chat list and notification only) is
 * the first line, plain, at most 64 characters. The parameters' JSON is cut to stay under the
 * documented 15,000 bytes of `msgParam`.
 */
export function renderText(text: string): { msgKey: 'sampleText' | 'sampleMarkdown'; msgParam: Record<string, string> } {
  const normal = slackToPlain((text ?? '').replace(/\r\n?/g, '\n'));
  const lines = normal.split('\n');
  const filled = lines.filter((l) => l.trim());
  const fits = (param: Record<string, string>) => utf8Bytes(JSON.stringify(param)) <= L.msgParamBytes;

  if (filled.length >= 2 && lines.some((l) => HEADED_LINE.test(l))) {
    const title = cut(plainLine(filled[0]!), L.robotTitle, [], 'title');
    const body = lines.map((l) => toMarkdown(l)).join('  \n');
    return { msgKey: 'sampleMarkdown', msgParam: { title, text: cutToFit(body, (t) => fits({ title, text: t })) } };
  }
  const content = dropBold(normal);
  return { msgKey: 'sampleText', msgParam: { content: cutToFit(content, (c) => fits({ content: c })) } };
}
