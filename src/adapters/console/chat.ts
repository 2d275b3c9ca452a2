/**
 * The console chat (`npm run demo`): a terminal REPL in which you act as any configured person,
 * type the same commands as in Slack and press card buttons by number (`3.1`), over the real
 * flows. Lines are handled one at a time, in order, each fully (including the caller's `flush`,
 * which delivers the outbox so cards appear at once) before the next is read.
 */
import { createInterface, type Interface } from 'node:readline';
import type { PersonRef } from '../../flows/incident/model';
import type { FormContext, InteractionContext, Interactions, Reply } from '../../flows/interactions';
import type { NeutralForm } from '../../flows/messages/card';
import { t, type MessageKey } from '../../flows/messages/catalog';
import type { FormValues } from '../../flows/messages/forms';
import { identify } from '../../flows/people';
import type { Policy, RoleName } from '../../flows/policy/policy';
import { accountOf, personByAccount, ROLE_NAMES, tiersOf } from '../../flows/policy/policy';
import { answerField } from './form';
import type { ConsolePort } from './port';
import { displayWidth, FIELD_PROMPT, renderCard, renderFieldQuestion, renderFormTitle, renderNotice, renderReply, painter, targetLabel, type RenderOptions } from './render';
import { ui } from './strings';

/** What the console chat needs. */
export interface ConsoleChatOptions extends RenderOptions {
  /** The shared conversation logic (createInteractions). */
  interactions: Pick<Interactions, 'command' | 'click' | 'submit'>;
  policy: Policy;
  /** The console ChatPort the outbox delivers to: its card numbers are what `3.1` presses. */
  port: ConsolePort;
  /** Where lines are read from: a TTY or any readable stream (a piped script, a test). */
  input: NodeJS.ReadableStream;
  /** Where everything is written (prompts, replies, notices). */
  output: { write(s: string): void };
  /** How the bot command is typed (`/incident`); also accepted without the slash. */
  commandName: string;
  /** Called (and awaited) when the person types quit/exit; not when the input just ends. */
  onQuit?: () => void | Promise<void>;
  /**
   * Awaited after every handled line and before `start()` resolves: drives the outbox worker
   * so that the cards and messages an action caused are printed before the next prompt.
   */
  flush?: () => Promise<unknown>;
  /** Whom to act as first: a person key or `guest:<name>` (default: the first person without a tier or role). */
  as?: string;
  /**
   * A TTY to run readline in terminal mode on (line editing, history, Ctrl-C quits). Without it
   * lines are read plainly and prompts are written to `output`.
   */
  terminal?: NodeJS.WritableStream;
  /** Write each line read back after its prompt (for transcripts of piped scripts). */
  echo?: boolean;
  /** Called each time the chat waits for a line that has not arrived yet (tests step with it). */
  onWaiting?: () => void;
}

/** A running console chat. */
export interface ConsoleChat {
  /** Runs the REPL; resolves when the input ends or the person types quit/exit, all work done. */
  start(): Promise<void>;
  /** The person typed lines act as now. */
  readonly person: PersonRef;
}

const QUIT = new Set(['quit', 'exit', ':q', '退出']);
const HELP = new Set(['help', '?', '帮助']);
const AS = new Set(['as', 'su', '切换']);
const WHO = new Set(['who', 'people', '人员']);
const CARDS = new Set(['cards', '卡片']);
const SHOW = new Set(['show', '显示']);
/** Bot sub-commands also understood without the command name; the whole line goes to the bot. */
const BOT_WORDS = new Set(['report', 'new', 'status', 'st', 'list', 'ls', 'sla', 'major', 'update', 'note', 'link', '报障', '状态', '列表', '时效', '重大', '进展', '记录', '关联', '报告']);
const PRESS = /^#?(\d+)\.(\d+)$/;

type LineResult = 'quit' | void;

/** Builds the console chat; nothing is read until `start()`. */
export function createConsoleChat(opts: ConsoleChatOptions): ConsoleChat {
  const { interactions, policy, port, output } = opts;
  const locale = policy.locale;
  const paint = painter(opts);
  const commandWord = opts.commandName.replace(/^\//, '').toLowerCase();
  const write = (s: string) => output.write(s.endsWith('\n') ? s : `${s}\n`);
  const notice = (s: string) => write(renderNotice(s, opts));
  const say = (s: string, refused = false) => write(renderReply(s, refused, opts));

  let person: PersonRef = initialPerson();

  // ── reading lines: a queue filled by readline, drained one line at a time ──
  let rl: Interface | null = null;
  const buffered: string[] = [];
  let ended = false;
  let waiter: ((line: string | null) => void) | null = null;

  function readLine(prompt: string): Promise<string | null> {
    if (rl && opts.terminal) {
      rl.setPrompt(prompt);
      if (!ended) rl.prompt();
    } else output.write(prompt);
    const echo = (line: string | null) => {
      if (opts.echo && !opts.terminal) output.write(`${line ?? ''}\n`);
      return line;
    };
    const next = buffered.shift();
    if (next !== undefined) return Promise.resolve(echo(next));
    if (ended) return Promise.resolve(echo(null));
    return new Promise((resolve) => {
      waiter = (line) => resolve(echo(line));
      opts.onWaiting?.();
    });
  }

  function deliver(line: string | null): void {
    const w = waiter;
    if (w) {
      waiter = null;
      w(line);
    } else if (line !== null) buffered.push(line);
  }

  // ── who is acting ──
  function initialPerson(): PersonRef {
    if (opts.as) {
      const p = resolvePerson(opts.as);
      if (p) return p;
    }
    const people = Object.values(policy.people);
    const plain = people.find((p) => tiersOf(policy, p.key).length === 0 && !ROLE_NAMES.some((r) => policy.roles[r].includes(p.key)));
    const first = plain ?? people[0];
    return first ? identify(policy, 'console', accountOf(policy, first.key, 'console') ?? first.key) : identify(policy, 'console', 'guest');
  }

  function resolvePerson(raw: string): PersonRef | null {
    const key = raw.trim().replace(/^@/, '');
    if (!key) return null;
    const guest = /^guest:(.+)$/i.exec(key);
    if (guest) return identify(policy, 'console', guest[1]!.trim());
    const configured = policy.people[key] ?? personByAccount(policy, 'console', key);
    if (!configured) return null;
    return identify(policy, 'console', accountOf(policy, configured.key, 'console') ?? configured.key);
  }

  /** How a person appears in the prompt: their key, or `guest:<id>`. */
  const handle = (p: PersonRef) => (policy.people[p.id] ? p.id : `guest:${p.platformUserId}`);
  const describe = (p: PersonRef) => (p.name === handle(p) ? p.name : `${p.name} (${handle(p)})`);
  const promptFor = (p: PersonRef) => `${paint('bold', `[${handle(p)}]`)} > `;

  function switchTo(arg: string): void {
    if (!arg) {
      const example = Object.keys(policy.people)[0] ?? 'guest:alice';
      notice(ui(locale, 'console.as.usage', { example }));
      return;
    }
    const p = resolvePerson(arg);
    if (!p) {
      say(ui(locale, 'console.as.unknown', { key: arg }), true);
      return;
    }
    person = p;
    notice(ui(locale, 'console.as.now', { who: describe(p) }));
  }

  function who(): void {
    const rows = Object.values(policy.people).map((p) => {
      const what = [
        ...tiersOf(policy, p.key).map((tier) => t(locale, `tier.${tier}` as MessageKey)),
        ...ROLE_NAMES.filter((r: RoleName) => policy.roles[r].includes(p.key)).map((r) => ui(locale, `console.role.${r}`)),
        ...(policy.keyUsers.includes(p.key) ? [t(locale, 'card.key_user')] : []),
      ];
      return { key: p.key, name: p.name, what: what.length ? what.join(' · ') : ui(locale, 'console.who.nothing'), me: p.key === person.id };
    });
    const keyWidth = Math.max(0, ...rows.map((r) => displayWidth(r.key)));
    const nameWidth = Math.max(0, ...rows.map((r) => displayWidth(r.name)));
    const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - displayWidth(s)));
    const lines = [ui(locale, 'console.who.title')];
    for (const r of rows) {
      lines.push(`${r.me ? '*' : ' '} ${pad(r.key, keyWidth)}  ${pad(r.name, nameWidth)}  ${r.what}${r.me ? `  (${ui(locale, 'console.who.you')})` : ''}`.trimEnd());
    }
    lines.push(ui(locale, 'console.who.guest'));
    write(lines.join('\n'));
  }

  // ── cards ──
  function listCards(): void {
    const cards = port.cards();
    if (!cards.length) {
      notice(ui(locale, 'console.cards.none', { command: opts.commandName }));
      return;
    }
    const lines = [ui(locale, 'console.cards.title')];
    const whereWidth = Math.max(...cards.map((c) => displayWidth(targetLabel(c.target))));
    for (const c of cards) {
      const where = targetLabel(c.target).padEnd(whereWidth);
      const state = c.card.buttons.length
        ? `${ui(locale, 'console.cards.buttons', { count: c.card.buttons.length })}: ${c.card.buttons.map((b, i) => `${c.no}.${i + 1} ${b.label}`).join(', ')}`
        : ui(locale, 'console.cards.decided');
      lines.push(`  ${paint('bold', String(c.no).padStart(3))}  ${where}  ${c.card.title}  (${state})`);
    }
    write(lines.join('\n'));
  }

  function show(arg: string): void {
    const m = /^#?(\d+)$/.exec(arg.trim());
    if (!m) {
      notice(ui(locale, 'console.show.usage'));
      return;
    }
    if (!port.show(Number(m[1]))) say(ui(locale, 'console.card.unknown', { no: m[1]! }), true);
  }

  async function press(no: number, index: number): Promise<LineResult> {
    const live = port.card(no);
    if (!live) {
      say(ui(locale, 'console.card.unknown', { no }), true);
      return;
    }
    const buttons = live.card.buttons;
    if (!buttons.length) {
      say(ui(locale, 'console.button.none', { no, outcome: live.card.outcome ?? ui(locale, 'console.cards.decided') }), true);
      return;
    }
    const button = buttons[index - 1];
    if (!button) {
      say(ui(locale, 'console.button.unknown', { no, button: index, max: buttons.length }), true);
      return;
    }
    const ctx: InteractionContext = { platform: 'console', channel: live.target.id, commandName: opts.commandName };
    const actor = person;
    return showReply(actor, await interactions.click(actor, button.actionId, button.value, ctx), ctx);
  }

  // ── replies and forms ──
  async function showReply(actor: PersonRef, reply: Reply, ctx: InteractionContext): Promise<LineResult> {
    switch (reply.kind) {
      case 'text':
        say(reply.text, reply.refused);
        return;
      case 'card':
        write(renderCard(reply.card, null, opts));
        if (reply.card.buttons.length) notice(ui(locale, 'console.buttons.unnumbered'));
        return;
      case 'form':
        return walkForm(actor, reply.form, reply.context, ctx);
    }
  }

  /** Asks the form's fields one by one, then submits; field problems are asked again. */
  async function walkForm(actor: PersonRef, form: NeutralForm, context: FormContext, ctx: InteractionContext): Promise<LineResult> {
    write(renderFormTitle(form, locale, opts));
    const values: FormValues = {};
    let ask = form.fields;
    for (;;) {
      for (const field of ask) {
        write(renderFieldQuestion(field, locale, opts));
        for (;;) {
          const line = await readLine(FIELD_PROMPT);
          const quit = line !== null && QUIT.has(line.trim().toLowerCase());
          const answer = line === null || quit ? ({ kind: 'cancel' } as const) : answerField(field, line, locale);
          if (answer.kind === 'cancel') {
            notice(ui(locale, 'console.form.cancelled'));
            return quit ? 'quit' : undefined;
          }
          if (answer.kind === 'again') {
            say(answer.message, true);
            continue;
          }
          values[field.id] = answer.value;
          break;
        }
      }
      const result = await interactions.submit(actor, context, values, ctx);
      if (result.ok || !('fieldErrors' in result)) return showReply(actor, result.reply, ctx);
      const errors = Object.entries(result.fieldErrors);
      const label = (id: string) => form.fields.find((f) => f.id === id)?.label ?? id;
      say([ui(locale, 'console.form.fix'), ...errors.map(([id, message]) => `${label(id)}: ${message}`)].join('\n'), true);
      ask = form.fields.filter((f) => f.id in result.fieldErrors);
      // A problem no field of this form can fix: give up rather than ask forever.
      if (!ask.length) return;
    }
  }

  // ── one line ──
  async function handleLine(raw: string): Promise<LineResult> {
    const line = raw.trim();
    if (!line) return;
    const head = line.split(/\s+/)[0]!;
    const word = head.toLowerCase();
    const rest = line.slice(head.length).trim();
    const bot = async (text: string) => {
      const ctx: InteractionContext = { platform: 'console', channel: person.platformUserId, commandName: opts.commandName };
      const actor = person;
      return showReply(actor, await interactions.command(actor, text, ctx), ctx);
    };

    if (QUIT.has(word) && !rest) return 'quit';
    const pressed = PRESS.exec(line);
    if (pressed) return press(Number(pressed[1]), Number(pressed[2]));
    if (HELP.has(word)) {
      write(ui(locale, 'console.help', { command: opts.commandName }));
      write(`\n${ui(locale, 'console.help.bot')}`);
      return bot('help');
    }
    if (AS.has(word)) return switchTo(rest);
    if (WHO.has(word) && !rest) return who();
    if (CARDS.has(word) && !rest) return listCards();
    if (SHOW.has(word)) return show(rest);
    if (word.replace(/^\//, '') === commandWord && (word.startsWith('/') || word === commandWord)) return bot(rest);
    if (BOT_WORDS.has(word)) return bot(line);
    say(ui(locale, 'console.unknown', { text: line.length > 60 ? `${line.slice(0, 59)}…` : line, command: opts.commandName }), true);
  }

  async function safely<T>(work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      say(ui(locale, 'console.error', { message }), true);
      return undefined;
    }
  }

  let started: Promise<void> | null = null;

  async function run(): Promise<void> {
    rl = createInterface({ input: opts.input, output: opts.terminal, terminal: !!opts.terminal, crlfDelay: Infinity });
    rl.on('line', (line) => deliver(line));
    rl.on('close', () => {
      ended = true;
      deliver(null);
    });
    // Terminal mode: Ctrl-C ends the chat like Ctrl-D (readline would otherwise just pause).
    rl.on('SIGINT', () => rl?.close());

    notice(ui(locale, 'console.welcome', { who: describe(person) }));
    await safely(async () => opts.flush?.());
    for (;;) {
      const line = await readLine(promptFor(person));
      if (line === null) {
        // The input ended at a prompt: finish its line.
        if (!opts.terminal && !opts.echo) output.write('\n');
        break;
      }
      const result = await safely(() => handleLine(line));
      await safely(async () => opts.flush?.());
      if (result === 'quit') {
        notice(ui(locale, 'console.bye'));
        await safely(async () => opts.onQuit?.());
        break;
      }
    }
    rl.close();
  }

  return {
    start() {
      started ??= run();
      return started;
    },
    get person() {
      return person;
    },
  };
}
