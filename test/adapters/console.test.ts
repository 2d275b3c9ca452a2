/**
 * The console chat end to end over the real flows: a scripted PassThrough input, the real
 * dispatcher, interactions and outbox worker, and an in-memory PGlite store. Each step writes one
 * line and waits until the chat asks for the next, then reads what it printed.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createConsoleChat, type ConsoleChatOptions } from '../../src/adapters/console/chat';
import { createConsolePort } from '../../src/adapters/console/port';
import { buildPolicy } from '../../src/config/policy-schema';
import { createPgliteStore } from '../../src/db';
import { createDispatcher } from '../../src/flows/dispatch';
import { createInteractions } from '../../src/flows/interactions';
import { createOutboxWorker } from '../../src/flows/outbox';
import { systemClock, type IncidentStore, type Logger } from '../../src/flows/ports';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function policyFor(locale: 'en' | 'zh-CN' = 'en') {
  return buildPolicy({
    locale,
    timeZone: 'Asia/Shanghai',
    people: {
      'zhang.san': { name: 'Zhang San' },
      'li.wei': { name: 'Li Wei' },
      'wang.fang': { name: 'Wang Fang' },
      'chen.jie': { name: 'Chen Jie' },
      'zhao.min': { name: 'Zhao Min' },
    },
    tiers: {
      desk: { members: ['li.wei'], queue: { console: 'desk' } },
      l1: { members: ['wang.fang'], queue: { console: 'l1' } },
      l2: { members: ['chen.jie'], queue: { console: 'l2' } },
      l3: { members: [] },
    },
    roles: { incident_manager: ['zhao.min'] },
  });
}

interface Session {
  store: IncidentStore;
  /** Everything printed so far. */
  output(): string;
  /** Types a line and resolves, with what was printed meanwhile, when the chat waits again. */
  send(line: string): Promise<string>;
  /** Ends the input and waits for the chat to finish. */
  end(): Promise<string>;
  /** Resolves when start() does. */
  done: Promise<void>;
}

const open: IncidentStore[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function session(opts: { locale?: 'en' | 'zh-CN'; as?: string; wrap?: (i: ConsoleChatOptions['interactions']) => ConsoleChatOptions['interactions'] } = {}): Promise<Session> {
  const policy = policyFor(opts.locale);
  const store = await createPgliteStore(null);
  open.push(store);
  let out = '';
  const output = { write: (s: string) => void (out += s) };
  const port = createConsolePort(output, { locale: policy.locale });
  const dispatcher = createDispatcher({ store, clock: systemClock(), policy, platforms: ['console'], newId: randomUUID, logger: quiet, onCommitted: () => {} });
  const worker = createOutboxWorker({ store, ports: { console: port }, policy, clock: systemClock(), logger: quiet, record: (id, c) => dispatcher.record(id, c) });
  const real = createInteractions(dispatcher);
  const input = new PassThrough();
  let wake: (() => void) | null = null;
  const nextWait = () => new Promise<void>((resolve) => (wake = resolve));
  const chat = createConsoleChat({
    interactions: opts.wrap ? opts.wrap(real) : real,
    policy,
    port,
    input,
    output,
    commandName: '/incident',
    flush: () => worker.runOnce(),
    as: opts.as ?? 'zhang.san',
    echo: true,
    onWaiting: () => {
      const w = wake;
      wake = null;
      w?.();
    },
  });
  const first = nextWait();
  const done = chat.start();
  await first;
  return {
    store,
    output: () => out,
    async send(line) {
      const from = out.length;
      const waited = nextWait();
      input.write(`${line}\n`);
      await Promise.race([waited, done]);
      return out.slice(from);
    },
    async end() {
      const from = out.length;
      input.end();
      await done;
      return out.slice(from);
    },
    done,
  };
}

/** The number of the latest card printed into `where` (`#desk`, `@zhang.san`). */
function cardIn(text: string, where: string): number {
  const all = [...text.matchAll(new RegExp(`── ${where} · card (\\d+)`, 'g'))];
  const last = all.at(-1);
  if (!last) throw new Error(`no card in ${where} in:\n${text}`);
  return Number(last[1]);
}

/** `3.2` for the button labelled `label` in the latest rendering of card `no`. */
function button(text: string, no: number, label: string): string {
  const start = text.lastIndexOf(`╭─ [${no}]`);
  if (start < 0) throw new Error(`card ${no} not printed`);
  const block = text.slice(start, text.indexOf('╰─', start));
  const m = new RegExp(`\\[(${no}\\.\\d+)\\] ${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).exec(block);
  if (!m) throw new Error(`card ${no} has no button ${label}:\n${block}`);
  return m[1]!;
}

describe('console chat over the real flows', () => {
  it('walks a ticket through its whole life', async () => {
    const s = await session();
    expect(s.output()).toContain('You are Zhang San (zhang.san)');
    expect(s.output()).toContain('[zhang.san] > ');

    // The reporter reports; the number and the priority come back, the desk card appears.
    let out = await s.send('/incident VPN drops every few minutes');
    expect(out).toMatch(/› Received: INC-1 "VPN drops every few minutes", priority P3 Medium/);
    expect(out).toContain('→ @zhang.san: Received: INC-1');
    const desk = cardIn(out, '#desk');
    expect(out).toContain(`╭─ [${desk}] INC-1 · VPN drops every few minutes`);
    expect(out).toContain('Status: New');
    const accept = button(out, desk, 'Accept');
    expect(accept).toBe(`${desk}.1`);

    // An outsider cannot accept: a visible refusal, nothing changes.
    out = await s.send(accept);
    expect(out).toContain('✖ Only members of Service desk can do that on INC-1.');
    expect((await s.store.getByNumber('INC-1'))!.status).toBe('new');

    // The desk accepts; the card is updated in place and the reporter is told.
    out = await s.send('as li.wei');
    expect(out).toContain('You are now Li Wei (li.wei).');
    out = await s.send(accept);
    expect(out).toContain('› You accepted INC-1.');
    expect(out).toContain(`── #desk · card ${desk} (updated) ──`);
    expect(out).toContain('Status: In progress');
    expect(out).toMatch(/→ @zhang\.san: INC-1: Li Wei \(Service desk\) has taken your incident/);

    // Escalate through the form: the reason is asked, an empty answer is asked again.
    out = await s.send(button(s.output(), desk, 'Escalate'));
    expect(out).toContain('┌ Escalate INC-1');
    expect(out).toContain('│ Reason');
    out = await s.send('');
    expect(out).toContain('An answer is needed here');
    out = await s.send('Needs a network engineer');
    expect(out).toContain('› INC-1 escalated to L1 engineers.');
    const l1 = cardIn(out, '#l1');
    expect(l1).toBeGreaterThan(desk);
    expect(out).toContain(`── #desk · card ${desk} (updated) ──`);
    expect(out).toContain('Moved to L1 engineers');

    // The old desk card has no buttons any more: pressing one says so.
    out = await s.send(accept);
    expect(out).toContain(`✖ Card ${desk} has no buttons any more`);

    // L1 accepts and resolves with a code and a note.
    await s.send('as wang.fang');
    out = await s.send(button(s.output(), l1, 'Accept'));
    expect(out).toContain('› You accepted INC-1.');
    out = await s.send(button(s.output(), l1, 'Resolve'));
    expect(out).toContain('┌ Resolve INC-1');
    expect(out).toMatch(/\* 1\) Fixed/);
    expect(out).toContain('3) Configuration change');
    out = await s.send('9');
    expect(out).toContain('"9" is not one of the choices: type a number from 1 to 7.');
    out = await s.send('3');
    expect(out).toContain('│ Resolution note');
    out = await s.send('Replaced the VPN gateway configuration');
    expect(out).toContain('› INC-1 resolved; the reporter is asked to confirm.');
    const mine = cardIn(out, '@zhang.san');
    expect(out.replace(/\n│ ?/g, ' ')).toContain('Your incident INC-1 has been resolved by Wang Fang: Replaced the VPN gateway configuration. Is it fixed?');

    // The reporter confirms and rates 5.
    await s.send('as zhang.san');
    out = await s.send(button(s.output(), mine, 'Yes, it is fixed'));
    expect(out).toContain('› Thank you: INC-1 is closed.');
    expect(out).toContain(`── @zhang.san · card ${mine} (updated) ──`);
    expect(out).toContain('How satisfied are you with how INC-1 was handled?');
    out = await s.send(button(s.output(), mine, '5 ★'));
    expect(out).toContain('› Thank you for rating INC-1.');
    expect(out).toContain('You rated the handling of INC-1 5/5.');

    out = await s.send('cards');
    expect(out).toMatch(new RegExp(`${desk}  #desk\\s+INC-1 · VPN drops every few minutes  \\(decided\\)`));
    expect(out).toMatch(new RegExp(`${mine}  @zhang\\.san\\s+INC-1`));

    out = await s.send('status INC-1');
    expect(out).toContain('Status: Closed');
    expect(out).toContain('Rating: 5/5');

    const incident = (await s.store.getByNumber('INC-1'))!;
    expect(incident.status).toBe('closed');
    expect(incident.rating).toBe(5);
    expect(incident.resolutionCode).toBe('config_change');
    expect(incident.owner?.id).toBe('li.wei');
    expect(incident.assignee?.id).toBe('wang.fang');

    await s.send('quit');
    await s.done;
    expect(s.output()).toContain('Bye.');
  });

  it('files any unknown text after the command as a report, but not a bare unknown line', async () => {
    const s = await session();
    let out = await s.send('/incident the printer on floor 3 is on fire');
    expect(out).toContain('› Received: INC-1 "the printer on floor 3 is on fire"');
    out = await s.send('incident  second one, without the slash');
    expect(out).toContain('› Received: INC-2');
    out = await s.send('report third via the bare word');
    expect(out).toContain('› Received: INC-3');
    out = await s.send('the mail server is slow');
    expect(out).toContain('✖ I did not understand "the mail server is slow". Type help');
    expect(await s.store.getByNumber('INC-4')).toBeNull();
    out = await s.send('list');
    expect(out).toContain('Reported by you or assigned to you');
    expect(out).toContain('INC-3 · P3 · New · third via the bare word');
    await s.end();
  });

  it('walks the report form, keeping defaults on Enter', async () => {
    const s = await session();
    let out = await s.send('/incident');
    expect(out).toContain('┌ Report an incident');
    expect(out).toContain('│ What is wrong?');
    out = await s.send('Printer jams');
    expect(out).toContain('│ Details (Enter skips)');
    await s.send('');
    out = await s.send('fault');
    expect(out).toContain('Impact: how many are affected?');
    await s.send('');
    await s.send('high');
    await s.send('');
    out = await s.send('');
    expect(out).toMatch(/› Received: INC-1 "Printer jams", priority P2 High/);
    const incident = (await s.store.getByNumber('INC-1'))!;
    expect([incident.category, incident.impact, incident.urgency]).toEqual(['fault', 'medium', 'high']);
    await s.end();
  });

  it('cancels a form with cancel, sending nothing', async () => {
    const s = await session({ as: 'li.wei' });
    let out = await s.send('/incident Disk full on build server');
    const desk = cardIn(out, '#desk');
    out = await s.send(button(s.output(), desk, 'Reject'));
    expect(out).toContain('┌ Reject INC-1');
    out = await s.send('cancel');
    expect(out).toContain('Cancelled; nothing was sent.');
    expect((await s.store.getByNumber('INC-1'))!.status).toBe('new');
    // The chat goes on afterwards.
    out = await s.send('who');
    expect(out).toMatch(/\* li\.wei\s+Li Wei\s+Service desk\s+\(you\)/);
    expect(out).toMatch(/zhao\.min\s+Zhao Min\s+incident manager/);
    expect(out).toMatch(/zhang\.san\s+Zhang San\s+reporter only/);
    await s.end();
  });

  it('explains unknown people, cards and buttons, and survives garbage', async () => {
    const s = await session();
    let out = await s.send('as nobody');
    expect(out).toContain('✖ I do not know "nobody". Type who to see the people');
    expect(out).toContain('[zhang.san] > ');
    out = await s.send('as');
    expect(out).toContain('Usage: as <person>');

    out = await s.send('as guest:alice');
    expect(out).toContain('You are now alice (guest:alice).');
    out = await s.send('/incident Wifi is down in room 12');
    expect(out).toContain('› Received: INC-1');
    expect(out).toContain('→ @alice: Received: INC-1');
    const desk = cardIn(out, '#desk');
    expect((await s.store.getByNumber('INC-1'))!.reporter.id).toBe('console:alice');

    out = await s.send(`${desk}.9`);
    expect(out).toContain(`✖ Card ${desk} has no button 9: its buttons are ${desk}.1 to ${desk}.4.`);
    out = await s.send('42.1');
    expect(out).toContain('✖ There is no card 42. Type cards to see the cards.');
    out = await s.send('show 42');
    expect(out).toContain('✖ There is no card 42.');
    out = await s.send(`show ${desk}`);
    expect(out).toContain(`── #desk · card ${desk} ──`);

    for (const garbage of ['%%% ☃ \u0000 {{}}', '...', '0.0', '/', '#', 'as @', 'show x', 'status INC-nope']) {
      out = await s.send(garbage);
      expect(out).toContain('[guest:alice] > ');
    }
    expect(s.output()).toContain('is not an incident number');
    out = await s.send('status');
    expect(out).toContain('INC-1 · Wifi is down in room 12');
    expect(out).toContain('To press a button, use the numbered card');
    await s.end();
  });

  it('prints a clear message when a handler throws, and carries on', async () => {
    const s = await session({
      wrap: (real) => ({
        ...real,
        command: async (person, text, ctx) => {
          if (text.includes('boom')) throw new Error('the database went away');
          return real.command(person, text, ctx);
        },
      }),
    });
    let out = await s.send('/incident boom');
    expect(out).toContain('✖ Something went wrong: the database went away. Nothing else was affected; carry on.');
    out = await s.send('/incident still works');
    expect(out).toContain('› Received: INC-1');
    await s.end();
  });

  it('prints console help before the bot help, and speaks Chinese when the policy does', async () => {
    const en = await session();
    const out = await en.send('help');
    expect(out.indexOf('Console chat: act as any configured person')).toBeGreaterThanOrEqual(0);
    expect(out.indexOf('Firebell: incident management')).toBeGreaterThan(out.indexOf('Console chat'));
    expect(out).toContain('/incident status [INC-12]');
    await en.end();

    const zh = await session({ locale: 'zh-CN' });
    expect(zh.output()).toContain('您现在是 Zhang San (zhang.san)');
    let z = await zh.send('报障 打印机卡纸');
    expect(z).toContain('› 已收到：INC-1「打印机卡纸」');
    expect(z).toContain('卡片');
    z = await zh.send('as 没有这个人');
    expect(z).toContain('不认识“没有这个人”');
    z = await zh.send('99.1');
    expect(z).toContain('没有卡片 99');
    await zh.send('退出');
    await zh.done;
    expect(zh.output()).toContain('再见。');
  });

  it('handles a whole piped script in order, waiting for each line', async () => {
    const policy = policyFor();
    const store = await createPgliteStore(null);
    open.push(store);
    let out = '';
    const output = { write: (s: string) => void (out += s) };
    const port = createConsolePort(output);
    const dispatcher = createDispatcher({ store, clock: systemClock(), policy, platforms: ['console'], newId: randomUUID, logger: quiet });
    const worker = createOutboxWorker({ store, ports: { console: port }, policy, clock: systemClock(), logger: quiet });
    const input = new PassThrough();
    // All at once: readline emits faster than the handlers run; order must hold anyway.
    input.end(['/incident one', '/incident two', 'as li.wei', '1.1', '2.1', 'cards', 'exit', '/incident never'].join('\n'));
    let quit = 0;
    await createConsoleChat({
      interactions: createInteractions(dispatcher),
      policy,
      port,
      input,
      output,
      commandName: '/incident',
      flush: () => worker.runOnce(),
      onQuit: () => void quit++,
    }).start();
    expect(quit).toBe(1);
    expect(out.indexOf('Received: INC-1')).toBeLessThan(out.indexOf('Received: INC-2'));
    expect(out).toContain('You accepted INC-1.');
    expect(out).toContain('You accepted INC-2.');
    expect(out).not.toContain('never');
    expect((await store.list({ statuses: ['in_progress'], limit: 10 })).length).toBe(2);
  });

  it('runs a major incident in the terminal: the room, its pinned summary, an update and the report', async () => {
    const s = await session({ as: 'li.wei' });
    let out = await s.send('/incident major Payroll is down');
    expect(out).toContain('Filed INC-1 as a major incident');
    expect(out).toContain('── war room #inc-1-payroll-is-down opened ──');
    expect(out).toMatch(/#inc-1-payroll-is-down: invited .*@zhao\.min/);
    expect(out).toMatch(/#inc-1-payroll-is-down · card \d+ ──[\s\S]*Major incident INC-1 · Payroll is down/);
    expect(out).toMatch(/#inc-1-payroll-is-down: card \d+ pinned/);
    out = await s.send('/incident update 1 Failover to the standby started');
    expect(out).toContain('→ #inc-1-payroll-is-down: 📣 Update #1 on INC-1 from Li Wei:');
    expect(out).toContain('Latest update (#1');
    out = await s.send('/incident report 1');
    expect(out).toContain('Major incident analysis report: INC-1 Payroll is down');
    expect(out).toContain('📣 Li Wei: Failover to the standby started');
    const incident = (await s.store.getByNumber('INC-1'))!;
    expect(incident.major?.rooms.map((r) => r.name)).toEqual(['inc-1-payroll-is-down']);
    await s.end();
  });

  it('speaks Chinese: 重大 files and declares, the room keeps the Chinese title', async () => {
    const s = await session({ as: 'li.wei', locale: 'zh-CN' });
    const out = await s.send('/incident 重大 工资系统宕机');
    expect(out).toContain('已登记 INC-1 为重大事件');
    expect(out).toContain('作战室 #inc-1-工资系统宕机 已开启');
    expect(out).toContain('🔥 重大事件 INC-1 · 工资系统宕机');
    await s.end();
  });
});
