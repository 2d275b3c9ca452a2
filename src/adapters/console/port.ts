/**
 * The console's ChatPort: "posting" is printing. Every card gets an increasing number and the
 * latest version of each card is kept, so the console chat can press its current buttons by
 * number (`3.1`).
 */
import type { Target } from '../../flows/effects';
import type { NeutralCard } from '../../flows/messages/card';
import { ChatDeliveryError, type ChatPort, type PostedMessage } from '../../flows/ports';
import type { Locale } from '../../flows/policy/policy';
import { painter, plainText, renderCard, targetLabel, type RenderOptions } from './render';
import { ui } from './strings';

/** Options of the console port. */
export interface ConsolePortOptions extends RenderOptions {
  /** Language of the console's own words ("card 3", "(updated)"); cards arrive localised. */
  locale?: Locale;
  /**
   * Prefix of message ids, unique per process (default: a time-based token). Bindings stored by
   * an earlier run then never point at a card number of this run.
   */
  session?: string;
}

/** A card the console has shown, in its latest version. */
export interface LiveCard {
  no: number;
  target: Target;
  card: NeutralCard;
  /** The message id handed out for it (what bindings store). */
  messageId: string;
  /** How many times it was updated in place. */
  updates: number;
}

/** The console ChatPort, plus what the chat needs to press buttons by card number. */
export interface ConsolePort extends ChatPort {
  readonly platform: 'console';
  /** The latest version of card `no`, or undefined when there is no such card. */
  card(no: number): LiveCard | undefined;
  /** Every card shown so far, by number. */
  cards(): LiveCard[];
  /** Prints card `no` again (with its header); false when there is no such card. */
  show(no: number): boolean;
}

/**
 * A ChatPort for platform `'console'` that prints to `out`: `postCard` gives the card the next
 * number and prints a `── #desk · card 3 ──` header and the card; `updateCard` re-renders the same
 * number marked "(updated)"; `sendText` prints `→ @zhang.san: text`.
 */
export function createConsolePort(out: { write(s: string): void }, opts: ConsolePortOptions = {}): ConsolePort {
  const locale = opts.locale ?? 'en';
  const session = opts.session ?? Date.now().toString(36);
  const paint = painter(opts);
  const byNo = new Map<number, LiveCard>();
  const byMessageId = new Map<string, number>();
  let lastCard = 0;
  let lastText = 0;
  const rooms = new Set<string>();
  const line = (text: string) => out.write(`${paint('dim', `── ${text} ──`)}\n`);

  function print(live: LiveCard, updated: boolean): void {
    const where = `${targetLabel(live.target)} · ${ui(locale, 'console.card', { no: live.no })}${updated ? ` ${ui(locale, 'console.updated')}` : ''}`;
    out.write(`\n${paint('dim', `── ${where} ──`)}\n${renderCard(live.card, live.no, opts)}\n`);
  }

  function add(target: Target, card: NeutralCard, messageId?: string): LiveCard {
    const no = ++lastCard;
    const live: LiveCard = { no, target, card, messageId: messageId ?? `${session}:${no}`, updates: 0 };
    byNo.set(no, live);
    byMessageId.set(live.messageId, no);
    return live;
  }

  return {
    platform: 'console',

    async postCard(target, card) {
      const live = add(target, card);
      print(live, false);
      return { channel: targetLabel(target), messageId: live.messageId };
    },

    async updateCard(message: PostedMessage, card) {
      const no = byMessageId.get(message.messageId);
      const live = no === undefined ? undefined : byNo.get(no);
      if (live) {
        live.card = card;
        live.updates++;
        print(live, true);
        return;
      }
      // A card posted by an earlier run (bindings outlive the process): show it again under a
      // new number, remembered under the old message id so later updates land on it.
      const target = targetFromChannel(message.channel);
      if (!target) throw new ChatDeliveryError(`unknown console message ${message.messageId} in ${message.channel}`, null, true);
      print(add(target, card, message.messageId), true);
    },

    async sendText(target, text, thread) {
      // A reply under a card names the card it belongs to, as a thread does in a chat client.
      const cardNo = thread ? byMessageId.get(thread.message.messageId) : undefined;
      const label = cardNo ? `${targetLabel(target)} · ${ui(locale, 'console.card', { no: cardNo })}` : targetLabel(target);
      const [first = '', ...rest] = plainText(text, opts).split('\n');
      out.write(`${[`${paint('cyan', `→ ${label}:`)} ${first}`, ...rest.map((l) => `  ${l}`)].join('\n')}\n`);
      return { channel: label, messageId: `${session}:t${++lastText}` };
    },

    // War rooms are channels named like Slack's, printed as they are made (the demo shows the flow).
    rooms: {
      roomName(number, title, prefix, attempt) {
        const slug = (x: string) => x.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '');
        const words = slug(title).slice(0, 40).replace(/-+$/g, '');
        return `${prefix}-${slug(number.replace(/^inc-?/i, ''))}${words ? `-${words}` : ''}${attempt > 0 ? `-${attempt + 1}` : ''}`;
      },
      async createRoom(name) {
        if (rooms.has(name)) return 'taken';
        rooms.add(name);
        line(ui(locale, 'console.room.created', { room: `#${name}` }));
        return { channel: name };
      },
      async findOwnRoom(name) {
        return rooms.has(name) ? { channel: name } : null;
      },
      async describeRoom(channel, topic) {
        line(`#${channel} · ${topic}`);
      },
      async inviteToRoom(channel, users) {
        line(ui(locale, 'console.room.invited', { room: `#${channel}`, users: users.map((u) => `@${u}`).join(', ') }));
        return { failed: [] };
      },
      async pin(message) {
        const no = byMessageId.get(message.messageId);
        line(ui(locale, 'console.room.pinned', { room: message.channel, no: no ?? '?' }));
      },
      async archiveRoom(channel) {
        rooms.delete(channel);
        line(ui(locale, 'console.room.archived', { room: `#${channel}` }));
      },
    },
    card: (no) => byNo.get(no),
    cards: () => [...byNo.values()].sort((a, b) => a.no - b.no),
    show(no) {
      const live = byNo.get(no);
      if (!live) return false;
      print(live, false);
      return true;
    },
  };
}

function targetFromChannel(channel: string): Target | null {
  if (channel.startsWith('#') && channel.length > 1) return { type: 'channel', id: channel.slice(1) };
  if (channel.startsWith('@') && channel.length > 1) return { type: 'user', id: channel.slice(1) };
  return null;
}
