import { parseCommand, type TypedAction } from './commands/parse';
import { isStale, type Dispatcher, type IncidentRef } from './dispatch';
import { titleAndDescription } from './commands/parse';
import { mayDeclare } from './major/major';
import { buildMajorReport, reportToChat, reportToMarkdown } from './major/report';
import type { Command } from './incident/commands';
import type { Incident, PersonRef, Platform } from './incident/model';
import { OPEN_STATUSES, RESOLUTION_CODES } from './incident/model';
import { decide } from './incident/decide';
import type { Rejection } from './incident/rejection';
import type { ActionId, NeutralCard, NeutralForm } from './messages/card';
import { ACTION_IDS, decodeButtonValue } from './messages/card';
import { buildIncidentCard } from './messages/cards';
import { isMessageKey, t, type MessageKey } from './messages/catalog';
import { actionForm, commandFromForm, reportForm, reportFromForm, type FormValues } from './messages/forms';
import { refusalText } from './messages/refusals';
import { riskList, slaDetails } from './messages/sla-view';
import { hasRole } from './policy/policy';
import { cleanText, personActor } from './people';
import type { Locale } from './policy/policy';
import { localeOf, tiersOf } from './policy/policy';
import type { RateLimiter } from './rate-limit';

/** What to show the person who acted: adapters render it (ephemeral message, toast, console line). */
export type Reply =
  | { kind: 'text'; text: string; refused: boolean }
  | { kind: 'card'; card: NeutralCard }
  | { kind: 'form'; form: NeutralForm; context: FormContext };

/** Carried through a form (Slack: private_metadata) so the submission knows what it completes. */
export interface FormContext {
  formId: 'report' | ActionId;
  incidentId: string | null;
  version: number | null;
  /** Where the person was, so a refusal after submission can reach them there. */
  channel: string;
}

export type FormResult =
  | { ok: true; reply: Reply; incident: Incident }
  | { ok: false; fieldErrors: Record<string, string> }
  | { ok: false; reply: Reply };

export interface InteractionContext {
  platform: Platform;
  channel: string;
  /** How the command is typed on this platform, for help texts (`/incident`). */
  commandName: string;
}

const COMMAND_FOR_CLICK: Partial<Record<ActionId, (arg?: string) => Command>> = {
  'incident.accept': () => ({ type: 'AcceptIncident' }),
  'incident.resume': () => ({ type: 'ResumeIncident' }),
  'incident.confirm': () => ({ type: 'ConfirmResolution' }),
  'incident.rate': (arg) => ({ type: 'RateIncident', score: Number(arg), feedback: null }),
  'request.approve': () => ({ type: 'ApproveRequest', note: null }),
  'incident.declare_major': () => ({ type: 'DeclareMajor' }),
  'major.confirm': () => ({ type: 'ConfirmMajor' }),
};

/** Stand-in input used to ask "would this person be allowed at all?" before showing a form. */
const PROBE: Partial<Record<ActionId, Command>> = {
  'incident.escalate': { type: 'EscalateIncident', reason: '-' },
  'incident.reject': { type: 'RejectIncident', reason: '-' },
  'incident.reopen': { type: 'ReopenIncident', reason: '-' },
  'request.deny': { type: 'DenyRequest', reason: '-' },
  'incident.hold': { type: 'HoldIncident', reason: '-', until: null },
  'incident.resolve': { type: 'ResolveIncident', code: 'fixed', note: '-' },
  'war_room.update': { type: 'PostStatusUpdate', text: '-' },
  'major.downgrade': { type: 'DowngradeMajor', reason: '-' },
  'war_room.roles': { type: 'ChangeMajorRoles', commander: null, commsLead: null },
};

/**
 * The conversation with people, shared by every adapter: typed commands, button clicks and form
 * submissions in, neutral replies out. Business rules stay in decide(); this only translates.
 */
export interface InteractionsOptions {
  /** Per-person limit on commands, clicks and form submissions (none when absent). */
  limiter?: RateLimiter;
  /** Told of every refusal by the limiter (metrics, the log). */
  onLimited?: (person: PersonRef, retryAfterMs: number) => void;
}

export function createInteractions(dispatcher: Dispatcher, opts: InteractionsOptions = {}) {
  const { policy, store } = dispatcher;
  const localeFor = (person: PersonRef): Locale => localeOf(policy, person.id);

  const cleanCtx = (ctx: InteractionContext): InteractionContext => ({ ...ctx, channel: cleanText(typeof ctx.channel === 'string' ? ctx.channel : '') });

  /** The refusal when `person` is over the rate limit, else null (one token taken). */
  function limited(person: PersonRef): Reply | null {
    if (!opts.limiter) return null;
    const r = opts.limiter.take(person.id);
    if (r.ok) return null;
    opts.onLimited?.(person, r.retryAfterMs);
    return { kind: 'text', text: t(localeFor(person), 'refuse.rate_limited', { seconds: Math.max(1, Math.ceil(r.retryAfterMs / 1000)) }), refused: true };
  }

  const text = (s: string, refused = false): Reply => ({ kind: 'text', text: s, refused });
  const refusal = (r: Rejection, incident: Incident | null, locale: Locale, person: PersonRef, ref = ''): Reply =>
    text(refusalText(r, incident, locale, ref, person.id), true);

  function doneText(actionId: ActionId, incident: Incident, locale: Locale): string {
    const key = `reply.done.${actionId}`;
    const params = { number: incident.number, tier: t(locale, `tier.${incident.tier}` as MessageKey) };
    return t(locale, isMessageKey(key) ? key : 'reply.done.default', params);
  }

  async function listFor(person: PersonRef, locale: Locale): Promise<Reply> {
    const line = (i: Incident) =>
      t(locale, 'list.line', {
        number: i.number,
        priority: i.priority,
        status: t(locale, `status.${i.status}` as MessageKey),
        title: i.title,
      });
    const mine = await store.list({ involving: person.id, statuses: OPEN_STATUSES, limit: 20 });
    const tiers = tiersOf(policy, person.id);
    const out = [`*${t(locale, 'list.mine')}*`, ...(mine.length ? mine.map(line) : [t(locale, 'list.none')])];
    if (tiers.length) {
      const queue = await store.list({ tiers, statuses: ['pending_approval', 'new'], limit: 20 });
      out.push(
        '',
        `*${t(locale, 'list.queue', { tiers: tiers.map((x) => t(locale, `tier.${x}` as MessageKey)).join(', ') })}*`,
        ...(queue.length ? queue.map(line) : [t(locale, 'list.none')]),
      );
    }
    return text(out.join('\n'));
  }

  async function cardFor(incident: Incident, person: PersonRef, locale: Locale): Promise<Reply> {
    const last = await store.lastEntry(incident.id);
    const asReporter = incident.reporter.id === person.id && (incident.status === 'resolved' || (incident.status === 'closed' && incident.rating === null));
    return { kind: 'card', card: buildIncidentCard(incident, asReporter ? 'reporter' : `queue:${incident.tier}`, last, { policy, locale, now: dispatcher.clock.now().getTime() }) };
  }

  /** A typed command (`/incident …`). Reports are filed at once; the rest answer the person. */
  async function command(person: PersonRef, raw: string, ctx: InteractionContext): Promise<Reply> {
    const over = limited(person);
    if (over) return over;
    return runCommand(person, cleanText(typeof raw === 'string' ? raw : ''), cleanCtx(ctx));
  }

  async function runCommand(person: PersonRef, raw: string, ctx: InteractionContext): Promise<Reply> {
    const locale = localeFor(person);
    const parsed = parseCommand(raw);
    switch (parsed.kind) {
      case 'help':
        return text(t(locale, 'command.help', { command: ctx.commandName }));
      case 'form':
        return { kind: 'form', form: reportForm(locale, policy, parsed.title), context: { formId: 'report', incidentId: null, version: null, channel: ctx.channel } };
      case 'error':
        return text(t(locale, parsed.key, { text: parsed.text, command: ctx.commandName }), true);
      case 'list':
        return listFor(person, locale);
      case 'status': {
        if (parsed.number) {
          const incident = await store.getByNumber(parsed.number);
          if (!incident) return text(t(locale, 'refuse.not_found', { ref: parsed.number }), true);
          return cardFor(incident, person, locale);
        }
        const mine = await store.list({ involving: person.id, statuses: OPEN_STATUSES, limit: 20 });
        if (mine.length === 0) return text(t(locale, 'status.none', { command: ctx.commandName }));
        if (mine.length === 1) return cardFor(mine[0]!, person, locale);
        return listFor(person, locale);
      }
      case 'priority': {
        const r = await dispatcher.act(
          personActor(person),
          { number: parsed.number },
          { type: 'ChangePriority', priority: parsed.priority, reason: parsed.reason },
          { platform: ctx.platform },
        );
        if (!r.ok) return refusal(r, r.incident, locale, person, parsed.number);
        return text(
          t(locale, 'reply.done.priority', {
            number: r.incident.number,
            priority: t(locale, `priority.${r.incident.priority}` as MessageKey),
          }),
        );
      }
      case 'sla': {
        const now = dispatcher.clock.now().getTime();
        if (parsed.number) {
          const incident = await dispatcher.load({ number: parsed.number });
          if (!incident) return text(t(locale, 'refuse.not_found', { ref: parsed.number }), true);
          return text(slaDetails(incident, now, locale, policy));
        }
        // Incident managers coordinate every queue (DOMAIN.md §3); others see their own tiers.
        const manager = hasRole(policy, person.id, 'incident_manager');
        const tiers = manager ? null : tiersOf(policy, person.id);
        if (tiers && tiers.length === 0) return text(t(locale, 'sla.risk.not_member', { command: ctx.commandName }));
        const open = await store.list({ ...(tiers ? { tiers } : {}), statuses: ['new', 'in_progress', 'pending'], limit: 500 });
        return text(riskList(open.map((i) => dispatcher.withDefaults(i)), now, locale, policy, tiers));
      }
      case 'report': {
        const r = await dispatcher.report(person, { title: parsed.title, description: parsed.description }, { platform: ctx.platform, channel: ctx.channel });
        if (!r.ok) return refusal(r, null, locale, person);
        return text(receipt(r.incident, locale));
      }
      case 'major':
        return majorCommand(person, parsed, ctx, locale);
      case 'act':
        return typedAction(person, parsed, ctx, locale);
      case 'update':
      case 'note': {
        const ref = await roomRef(parsed.number, ctx);
        // Not in a war room and no number: it was a report that starts with the word.
        if (!ref) return runCommand(person, `report ${parsed.raw}`, ctx);
        if (!parsed.text) return text(t(locale, parsed.kind === 'update' ? 'command.update_usage' : 'command.note_usage', { command: ctx.commandName }), true);
        const cmd: Command = parsed.kind === 'update' ? { type: 'PostStatusUpdate', text: parsed.text } : { type: 'AddNote', text: parsed.text, source: 'command' };
        const r = await dispatcher.act(personActor(person), ref, cmd, { platform: ctx.platform });
        if (!r.ok) return refusal(r, r.incident, locale, person, parsed.number ?? '');
        return text(parsed.kind === 'update' ? doneText('war_room.update', r.incident, locale) : t(locale, 'reply.note_added', { number: r.incident.number }));
      }
      case 'analysis': {
        const ref = await roomRef(parsed.number, ctx);
        if (!ref) return text(t(locale, 'command.report_usage', { command: ctx.commandName }), true);
        const incident = await dispatcher.load(ref);
        if (!incident) return text(t(locale, 'refuse.not_found', { ref: parsed.number ?? '' }), true);
        if (!incident.major) return text(t(locale, 'report.not_major', { number: incident.number }), true);
        const report = buildMajorReport(incident, await store.timeline(incident.id), { policy, locale, now: dispatcher.clock.now().getTime() });
        if (parsed.markdown) return text(`${t(locale, 'report.markdown', { number: incident.number })}\n\`\`\`\n${reportToMarkdown(report)}\`\`\``);
        return text(reportToChat(report));
      }
      case 'link': {
        const r = await dispatcher.link(personActor(person), { number: parsed.child }, { number: parsed.major }, ctx.platform);
        if (!r.ok) return refusal(r, r.incident, locale, person, r.incident ? '' : `${parsed.child} / ${parsed.major}`);
        return text(t(locale, 'reply.linked', { child: parsed.child, number: r.incident.number }));
      }
    }
  }

  /**
   * A card action typed instead of clicked (`accept INC-12`, `升级 INC-12 <原因>`): the same
   * command and the same rules as the button, on the incident as it is now (a typed command
   * cannot be stale). Without the reason or note it needs, the person gets the action's form.
   */
  async function typedAction(person: PersonRef, parsed: { action: TypedAction; number: string; text: string }, ctx: InteractionContext, locale: Locale): Promise<Reply> {
    const incident = await dispatcher.load({ number: parsed.number });
    if (!incident) return text(t(locale, 'refuse.not_found', { ref: parsed.number }), true);
    const id = parsed.action;
    const act = async (cmd: Command): Promise<Reply> => {
      const r = await dispatcher.act(personActor(person), { id: incident.id }, cmd, { platform: ctx.platform });
      if (!r.ok) return refusal(r, r.incident, locale, person, parsed.number);
      return text(doneText(id, r.incident, locale));
    };
    if (id === 'war_room.join') return act({ type: 'JoinWarRoom', platform: ctx.platform, user: person.platformUserId });
    if (id === 'incident.rate') {
      const [score = '', ...feedback] = parsed.text.split(/\s+/);
      if (!/^[1-5]$/.test(score)) return text(t(locale, 'command.rate_usage', { command: ctx.commandName, number: incident.number }), true);
      return act({ type: 'RateIncident', score: Number(score), feedback: feedback.join(' ') || null });
    }
    const make = COMMAND_FOR_CLICK[id];
    if (make) return act(make());
    if (!parsed.text) {
      const form = actionForm(id, incident, locale, policy);
      const check = dryRun(person, incident, PROBE[id] ?? { type: 'ReassignIncident', toTier: null, toPerson: null, reason: '-' });
      if (check) return refusal(check, incident, locale, person);
      if (!form) return text(t(locale, 'refuse.bad_button'), true);
      return { kind: 'form', form, context: { formId: id, incidentId: incident.id, version: incident.version, channel: ctx.channel } };
    }
    let values: FormValues = { reason: parsed.text };
    if (id === 'incident.reassign') {
      // `reassign INC-12 l2 <reason>` or `reassign INC-12 wang.wu <reason>` (to a person, in their tier).
      const [to = '', ...why] = parsed.text.split(/\s+/);
      const tierOf = policy.people[to] ? tiersOf(policy, to)[0] : undefined;
      values = policy.people[to] ? { person: `${tierOf ?? ''}:${to}`, reason: why.join(' ') } : { tier: to.toLowerCase(), reason: why.join(' ') };
    }
    if (id === 'incident.resolve') {
      const [first = '', ...more] = parsed.text.split(/\s+/);
      const code = (RESOLUTION_CODES as readonly string[]).includes(first.toLowerCase()) ? first.toLowerCase() : null;
      values = { code: code ?? 'fixed', note: code ? more.join(' ') : parsed.text };
    }
    const made = commandFromForm(id, values, policy);
    if (!made.ok) return refusal({ ok: false, reason: 'invalid_input', field: made.field, problem: made.problem }, incident, locale, person);
    return act(made.command);
  }

  /** The incident a room command is about: the number given, else the war room it is typed in. */
  async function roomRef(number: string | null, ctx: InteractionContext): Promise<IncidentRef | null> {
    if (number) return { number };
    const room = await store.roomByChannel(ctx.platform, ctx.channel);
    return room ? { id: room.incidentId } : null;
  }

  /** `major INC-12` declares; `major <text>` files a P1 with minimal fields and declares it at once. */
  async function majorCommand(person: PersonRef, parsed: { number: string | null; text: string }, ctx: InteractionContext, locale: Locale): Promise<Reply> {
    if (parsed.number) {
      const r = await dispatcher.act(personActor(person), { number: parsed.number }, { type: 'DeclareMajor' }, { platform: ctx.platform });
      if (!r.ok) return refusal(r, r.incident, locale, person, parsed.number);
      return text(doneText('incident.declare_major', r.incident, locale));
    }
    if (!mayDeclare(policy, person.id, null)) return text(t(locale, 'refuse.quick_major', { command: ctx.commandName }), true);
    const { title, description } = titleAndDescription(parsed.text);
    const r = await dispatcher.report(
      person,
      { title, description, impact: 'high', urgency: 'high', source: 'engineer' },
      { platform: ctx.platform, channel: ctx.channel },
      { declare: { quick: true } },
    );
    if (!r.ok) return refusal(r, null, locale, person);
    return text(t(locale, 'reply.major_filed', { number: r.incident.number }));
  }

  /**
   * A reaction on a message in a war room (the configured one, Slack `memo`): the message goes on
   * the incident's timeline with its author. Anywhere else, or another reaction, does nothing.
   */
  async function reaction(person: PersonRef, input: { platform: Platform; channel: string; messageId: string; reaction: string; text: string; author: PersonRef | null }): Promise<Reply | null> {
    if (input.reaction !== policy.major.noteReaction) return null;
    const room = await store.roomByChannel(input.platform, input.channel);
    if (!room) return null;
    const locale = localeFor(person);
    const r = await dispatcher.act(
      personActor(person),
      { id: room.incidentId },
      { type: 'AddNote', text: input.text, source: 'reaction', author: input.author, messageRef: `${input.platform}:${input.channel}:${input.messageId}` },
      { platform: input.platform },
    );
    if (!r.ok) return r.reason === 'nothing_changed' ? null : refusal(r, r.incident, locale, person);
    return text(t(locale, 'reply.note_added', { number: r.incident.number }));
  }

  function receipt(incident: Incident, locale: Locale): string {
    const key: MessageKey = incident.status === 'pending_approval' ? 'notify.reported_approval' : 'notify.reported';
    return t(locale, key, { number: incident.number, title: incident.title, priority: t(locale, `priority.${incident.priority}` as MessageKey) });
  }

  /** A button press. Actions needing a reason or note answer with their form (after checking the person may act at all). */
  async function click(person: PersonRef, actionId: string, rawValue: unknown, rawCtx: InteractionContext): Promise<Reply> {
    const over = limited(person);
    if (over) return over;
    const ctx = cleanCtx(rawCtx);
    const locale = localeFor(person);
    const value = decodeButtonValue(rawValue);
    if (!value || !ACTION_IDS.includes(actionId as ActionId)) return text(t(locale, 'refuse.bad_button'), true);
    const id = actionId as ActionId;
    const incident = await dispatcher.load({ id: value.incidentId });
    if (!incident) return refusal({ ok: false, reason: 'not_found' }, null, locale, person, value.incidentId.slice(0, 8));
    if (id === 'war_room.join') {
      const r = await dispatcher.act(personActor(person), { id: value.incidentId }, { type: 'JoinWarRoom', platform: ctx.platform, user: person.platformUserId }, { platform: ctx.platform });
      if (!r.ok) return refusal(r, r.incident, locale, person);
      return text(doneText(id, r.incident, locale));
    }
    const make = COMMAND_FOR_CLICK[id];
    if (make) {
      const r = await dispatcher.act(personActor(person), { id: value.incidentId }, make(value.arg), { platform: ctx.platform, expectedVersion: value.version });
      if (!r.ok) return refusal(r, r.incident, locale, person);
      return text(doneText(id, r.incident, locale));
    }
    const probe = PROBE[id];
    const form = actionForm(id, incident, locale, policy);
    if (!form) return text(t(locale, 'refuse.bad_button'), true);
    if (probe || id === 'incident.reassign') {
      const check = dryRun(person, incident, probe ?? { type: 'ReassignIncident', toTier: null, toPerson: null, reason: '-' });
      if (check) return refusal(check, incident, locale, person);
      if (isStale(incident, value.version)) return refusal({ ok: false, reason: 'stale_card' }, incident, locale, person);
    }
    return { kind: 'form', form, context: { formId: id, incidentId: incident.id, version: value.version, channel: ctx.channel } };
  }

  function dryRun(person: PersonRef, incident: Incident, cmd: Command): Rejection | null {
    const d = decide(incident, cmd, { now: new Date(0).toISOString(), policy, actor: personActor(person), platform: incident.reporter.platform });
    // Only "who" and "when" matter before the form: field problems are for the submission.
    if (d.ok || d.reason === 'invalid_input' || d.reason === 'same_tier' || d.reason === 'nothing_changed') return null;
    return d;
  }

  /** A submitted form. Field problems come back per field (shown in the form); refusals as a reply. */
  async function submit(person: PersonRef, context: FormContext, rawValues: FormValues, rawCtx: InteractionContext): Promise<FormResult> {
    const over = limited(person);
    if (over) return { ok: false, reply: over };
    const ctx = cleanCtx(rawCtx);
    const values: FormValues = {};
    for (const [k, v] of Object.entries(rawValues ?? {})) if (typeof v === 'string') values[k] = cleanText(v);
    const locale = localeFor(person);
    // Only the forms Firebell shows can be submitted (a forged context names something else).
    if (context.formId !== 'report' && !(ACTION_IDS as readonly string[]).includes(context.formId)) return { ok: false, reply: text(t(locale, 'refuse.bad_button'), true) };
    if (context.formId === 'report') {
      const r = await dispatcher.report(person, reportFromForm(values), { platform: ctx.platform, channel: context.channel || ctx.channel });
      if (!r.ok) {
        if (r.reason === 'invalid_input') return { ok: false, fieldErrors: { [r.field]: refusalText(r, null, locale) } };
        return { ok: false, reply: refusal(r, null, locale, person) };
      }
      return { ok: true, reply: text(receipt(r.incident, locale)), incident: r.incident };
    }
    if (!context.incidentId) return { ok: false, reply: text(t(locale, 'refuse.bad_button'), true) };
    const parsed = commandFromForm(context.formId, values, policy);
    // An action without a form (accept, confirm…) cannot be submitted as one.
    if (!parsed.ok && parsed.field === 'action') return { ok: false, reply: text(t(locale, 'refuse.bad_button'), true) };
    if (!parsed.ok) {
      return { ok: false, fieldErrors: { [parsed.field]: refusalText({ ok: false, reason: 'invalid_input', field: parsed.field, problem: parsed.problem }, null, locale) } };
    }
    const r = await dispatcher.act(personActor(person), { id: context.incidentId }, parsed.command, {
      platform: ctx.platform,
      ...(context.version ? { expectedVersion: context.version } : {}),
    });
    if (!r.ok) {
      if (r.reason === 'invalid_input') return { ok: false, fieldErrors: { [r.field]: refusalText(r, r.incident, locale) } };
      return { ok: false, reply: refusal(r, r.incident, locale, person) };
    }
    return { ok: true, reply: text(doneText(context.formId, r.incident, locale)), incident: r.incident };
  }

  return { command, click, submit, reaction, localeFor };
}


export type Interactions = ReturnType<typeof createInteractions>;
