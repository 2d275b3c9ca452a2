import type { Platform } from './incident/model';
import type { Locale } from './policy/policy';

/** Where a message goes on a platform: a channel (queue) or a person (direct message). */
export interface Target {
  /** `room`: the incident's war room on the effect's platform, looked up at delivery (id unused). */
  type: 'channel' | 'user' | 'room';
  id: string;
}

/**
 * Which card an incident has in a given place. Cards are rendered at delivery time from the
 * latest state, so a late or repeated `card.sync` always shows the truth.
 */
export type CardPurpose = `queue:${string}` | 'reporter' | `approver:${string}` | 'war_room' | `major:${string}`;

/** Effects are data (ARCHITECTURE.md rule 3): written to the outbox with the state change. */
export type Effect =
  | {
      kind: 'card.sync';
      platform: Platform;
      purpose: CardPurpose;
      target: Target;
      locale: Locale;
      /** False for cards that only need updating if they were ever posted (an old queue's card). */
      createIfMissing: boolean;
    }
  | {
      kind: 'message.send';
      platform: Platform;
      target: Target;
      locale: Locale;
      /** The catalog key it was rendered from (for logs and tests) and the text in the target's locale. */
      key: string;
      text: string;
      /**
       * Post it as a reply under the incident's card for this purpose (the card's thread), when
       * that card exists on the platform; `broadcast` also shows it in the channel. Without a
       * posted card it goes to `target` as a plain message.
       */
      thread?: { purpose: CardPurpose; broadcast: boolean };
    }
  /**
   * Makes the incident's war room on `platform` exist and be complete (DOMAIN.md §6): created or
   * found again, described, its people invited, the summary posted and pinned. Every step is
   * idempotent and its progress is kept with the room, so a retry resumes; one room per
   * incident and platform whatever happens.
   */
  | { kind: 'room.open'; platform: Platform; locale: Locale }
  /** Invites whoever should be in the room and is not yet (new assignee, new roles, a join click). */
  | { kind: 'room.invite'; platform: Platform; locale: Locale; people: string[] }
  /** Archives the room (after close, on the configured delay). */
  | { kind: 'room.archive'; platform: Platform }
  /** Posts the major incident analysis report, built from the timeline at delivery, in the room. */
  | { kind: 'room.report'; platform: Platform; locale: Locale };
