/**
 * Bugs the fuzzing of issue 7 found, each pinned as the property that failed before its fix
 * (text cleaned at the edge by cleanText, people without a prototype, string-only payload reads,
 * unknown form ids refused, catalog lookups that cannot throw); they stay as regression tests.
 *
 * A. Text with a NUL or a lone UTF-16 surrogate makes the store throw (PostgreSQL jsonb refuses
 *    `\u0000` and unpaired `\ud800` escapes): the person gets "unavailable" instead of a report.
 * B. A person key that names an Object.prototype member (`constructor`, `__proto__`, `toString`)
 *    passes `policy.people[key]` checks; ChangeMajorRoles then throws a TypeError in decide().
 * C. JSON whose `toString` is not a function (`{"toString": 1}`) makes `String(x)` throw inside the
 *    Feishu and DingTalk handlers: a 500, a rejected promise, or no answer at all.
 * D. A Feishu menu event whose `operator_name` is not a string throws in identify(); the promise
 *    is dropped (`void onMenu`), so the person hears nothing.
 * E. Submitting a form whose id is not a form (`incident.accept`, or anything unknown) throws in
 *    refusalText: the catalog has no `field.action`.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDingTalkEvents } from '../../src/adapters/dingtalk/events';
import type { DingTalkClient } from '../../src/adapters/dingtalk/client';
import type { DingTalkPort } from '../../src/adapters/dingtalk/port';
import { createFeishuEvents, messageText } from '../../src/adapters/feishu/events';
import { decodeCallbackValue, readFormValues } from '../../src/adapters/feishu/render';
import { createPgliteStore } from '../../src/db';
import { createDispatcher } from '../../src/flows/dispatch';
import { createInteractions, type FormContext, type Interactions } from '../../src/flows/interactions';
import { ACTION_IDS } from '../../src/flows/messages/card';
import { systemClock, type IncidentStore } from '../../src/flows/ports';
import { silentLogger } from '../../src/logger';
import { personRef, testPolicy } from '../support/policy';
import { personText } from './arbitraries';

const policy = testPolicy();
const ctx = { platform: 'slack' as const, channel: 'D0', commandName: '/incident' };

/** The characters PostgreSQL's jsonb cannot hold, whatever the driver does with them. */
const unstorable = fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff');
/** Object.prototype members that look like person keys (letters and `_` only, as the policy allows). */
const prototypeKey = fc.constantFrom('constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf');
/** JSON values that throw when converted to a string: an own `toString` that is not a function. */
const conversionTrap: fc.Arbitrary<unknown> = fc.constantFrom(JSON.parse('{"toString":1}'), JSON.parse('{"toString":"x","valueOf":1}'), JSON.parse('[{"toString":null}]'), JSON.parse('{"valueOf":{},"toString":[]}'));

describe('bugs found by fuzzing (issue 7): each property fails until its bug is fixed', () => {
  let store: IncidentStore;
  let ix: Interactions;
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => void rejections.push(e);
  beforeAll(async () => {
    store = await createPgliteStore(null);
    ix = createInteractions(createDispatcher({ store, clock: systemClock(), policy, platforms: ['slack'], newId: randomUUID, logger: silentLogger }));
    process.on('unhandledRejection', onRejection);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    await store.close();
  });

  it('A: a report, reason or note with a NUL or a lone surrogate is filed or refused, never a database error', async () => {
    const desk = personRef('zhang.san');
    await ix.command(personRef('reporter.a'), 'printer jammed', ctx);
    const [incident] = await store.list({ limit: 1 });
    const line = fc
      .tuple(fc.constantFrom('', 'report ', `note ${incident!.number} `, `reject ${incident!.number} `, `resolve ${incident!.number} fixed `), personText, unstorable, personText)
      .map(([prefix, before, bad, after]) => `${prefix}x${before}${bad}${after}`);
    await fc.assert(
      fc.asyncProperty(line, async (text) => {
        // Throws today: DrizzleQueryError, cause 22P05 "unsupported Unicode escape sequence" (NUL)
        // or 22P02 "invalid input syntax for type json" (lone surrogate), from store.create/commit.
        const reply = await ix.command(desk, text, ctx);
        expect(['text', 'card', 'form']).toContain(reply.kind);
      }),
      { numRuns: 50 },
    );
  });

  it('B: a war-room role given a prototype name (constructor, __proto__, …) is refused as an unknown person, not a TypeError', async () => {
    const manager = personRef('chen.jing');
    await ix.command(manager, 'major database down', ctx);
    const [major] = await store.list({ limit: 1 });
    await fc.assert(
      fc.asyncProperty(prototypeKey, fc.constantFrom('commander', 'comms'), async (key, field) => {
        const current = (await store.get(major!.id))!;
        const context: FormContext = { formId: 'war_room.roles', incidentId: current.id, version: current.version, channel: 'D0' };
        // Throws today: TypeError "Cannot read properties of undefined (reading 'slack')" at
        // personFromPolicy (src/flows/major/major.ts), via decideMajor ← decide ← dispatcher.act.
        const result = await ix.submit(manager, context, { [field]: key }, ctx);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 20 },
    );
  });

  it('E: a form id that is not a form is refused, not a TypeError in refusalText', async () => {
    const [incident] = await store.list({ limit: 1 });
    const noForm = fc.oneof(fc.constantFrom('incident.accept', 'incident.resume', 'incident.confirm', 'incident.rate', 'request.approve', 'incident.declare_major', 'war_room.join', 'major.confirm'), fc.string({ maxLength: 8 }).filter((s) => s !== 'report' && !(ACTION_IDS as readonly string[]).includes(s)));
    await fc.assert(
      fc.asyncProperty(noForm, async (formId) => {
        const context = { formId, incidentId: incident!.id, version: incident!.version, channel: 'D0' } as FormContext;
        // Throws today: TypeError "Cannot read properties of undefined (reading 'replace')" at t()
        // (src/flows/messages/catalog.ts) ← refusalText (field 'action' has no `field.action` text)
        // ← submit (src/flows/interactions.ts).
        const result = await ix.submit(personRef('zhang.san'), context, {}, ctx);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  it('C: Feishu handle and messageText never throw on JSON whose toString is not a function; the writer hears back', async () => {
    const said: string[] = [];
    const events = createFeishuEvents({
      interactions: ix,
      store,
      policy,
      logger: silentLogger,
      codec: { decode: decodeCallbackValue, readForm: readFormValues },
      botOpenId: 'ou_bot',
      replies: { text: async (_to, t) => void said.push(t), card: async (_to, c) => void said.push(c.title), form: async (_to, f) => void said.push(f.id) },
    });
    const message = (chatId: unknown, mentionName: unknown) => ({
      sender: { sender_type: 'user', sender_id: { open_id: 'ou_guest' } },
      message: { message_id: `om_${randomUUID()}`, chat_id: chatId, chat_type: 'group', message_type: 'text', content: JSON.stringify({ text: '@_user_2 help' }), mentions: [{ key: '@_user_2', id: { open_id: 'ou_x' }, name: mentionName }] },
    });
    const where = fc.constantFrom('event_type', 'chat_id', 'mention_name');
    await fc.assert(
      fc.asyncProperty(where, conversionTrap, async (at, trap) => {
        const before = said.length;
        rejections.length = 0;
        const event = message(at === 'chat_id' ? trap : 'oc_ops', at === 'mention_name' ? trap : 'Li Wei');
        const payload = { schema: '2.0', header: { event_id: `ev_${randomUUID()}`, event_type: at === 'event_type' ? trap : 'im.message.receive_v1', token: 't' }, event };
        if (at === 'mention_name') expect(() => messageText(event.message, 'ou_bot')).not.toThrow();
        // Throws today for event_type: TypeError "Cannot convert object to primitive value" at
        // String(header.event_type) in handle (src/adapters/feishu/events.ts): the HTTP glue answers 500.
        await events.handle(payload);
        await new Promise((r) => setTimeout(r, 50));
        // chat_id and mention_name: the same TypeError inside `void onMessage(event)`, before its
        // try: an unhandled rejection and no answer.
        expect(rejections).toEqual([]);
        if (at !== 'event_type') expect(said.length, 'the person heard nothing').toBeGreaterThan(before);
      }),
      { numRuns: 20 },
    );
  });

  it('C: DingTalk robot messages and card callbacks never reject on JSON whose toString is not a function', async () => {
    const port = { platform: 'dingtalk', templated: false, sendRobot: async () => ({ channel: 'c', messageId: 'm' }), postCard: async () => ({ channel: 'c', messageId: 'm' }), cardParams: () => ({}) } as unknown as DingTalkPort;
    const client = { session: async () => {} } as unknown as DingTalkClient;
    const events = createDingTalkEvents({ interactions: ix, store, policy, logger: silentLogger, port, client });
    await fc.assert(
      fc.asyncProperty(fc.boolean(), conversionTrap, async (robot, trap) => {
        // Both throw today: TypeError "Cannot convert object to primitive value" at
        // String(msg.conversationId ?? '') in onRobotMessage and String(cb.spaceId ?? …) in
        // onCardCallback (src/adapters/dingtalk/events.ts), both documented "Never throws"; over
        // HTTP mode that is a 500.
        if (robot) await events.onRobotMessage({ senderStaffId: 'staff1', msgId: `msg${randomUUID()}`, msgtype: 'text', text: { content: 'help' }, conversationType: '2', conversationId: trap });
        else await events.onCardCallback({ userId: 'staff1', content: JSON.stringify({ cardPrivateData: { params: { action: 'incident.accept', value: 'x' } } }), spaceId: trap }, randomUUID());
      }),
      { numRuns: 20 },
    );
  });

  it('D: a Feishu menu event whose operator_name is not a string still answers the person', async () => {
    const said: string[] = [];
    const events = createFeishuEvents({
      interactions: ix,
      store,
      policy,
      logger: silentLogger,
      codec: { decode: decodeCallbackValue, readForm: readFormValues },
      replies: { text: async (_to, t) => void said.push(t), card: async (_to, c) => void said.push(c.title), form: async (_to, f) => void said.push(f.id) },
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}), fc.constant(['张三'])), fc.constantFrom('list', 'help', 'report'), async (name, key) => {
        const before = said.length;
        rejections.length = 0;
        await events.handle({ schema: '2.0', header: { event_id: `ev_${randomUUID()}`, event_type: 'application.bot.menu_v6', token: 't' }, event: { operator: { operator_id: { open_id: 'ou_menu' }, operator_name: name }, event_key: key } });
        await new Promise((r) => setTimeout(r, 50));
        // Fails today: TypeError "displayName?.trim is not a function" in identify()
        // (src/flows/people.ts) ← onMenu, inside `void onMenu(event)`: unhandled, nobody answers.
        expect(rejections).toEqual([]);
        expect(said.length, 'the person heard nothing').toBeGreaterThan(before);
      }),
      { numRuns: 10 },
    );
  });
});
