import type { FormContext } from '../../flows/interactions';
import type { NeutralCard, NeutralForm } from '../../flows/messages/card';
import { SLACK_LIMITS as L } from './limits';

/** Slack mrkdwn treats &, < and > as control characters: user text must be escaped. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function cut(text: string, max: number, warnings: string[], what: string): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  warnings.push(`${what} cut to ${max} characters`);
  return `${chars.slice(0, max - 1).join('')}…`;
}

const ACCENT_EMOJI: Record<NeutralCard['accent'], string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':white_circle:',
  done: ':white_check_mark:',
};

export interface RenderedMessage {
  text: string;
  blocks: Record<string, unknown>[];
  warnings: string[];
}

/**
 * A neutral card as Block Kit. Pure. Buttons sharing one action id (the five rating buttons)
 * get a `#n` suffix, because Slack requires action ids unique within a block; inbound strips it.
 */
export function renderCard(card: NeutralCard): RenderedMessage {
  const warnings: string[] = [];
  const blocks: Record<string, unknown>[] = [];
  blocks.push({
    type: 'header',
    text: { type: 'plain_text', text: cut(`${card.title}`, L.headerText, warnings, 'title'), emoji: true },
  });
  if (card.body) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(escapeMrkdwn(card.body), L.sectionText, warnings, 'body') } });
  }
  // A section holds at most 10 fields (Block Kit limit): more go into further sections, so the
  // SLA due times after the record's own fields are never dropped.
  for (let i = 0; i < card.fields.length; i += L.sectionFields) {
    blocks.push({
      type: 'section',
      fields: card.fields.slice(i, i + L.sectionFields).map((f) => ({
        type: 'mrkdwn',
        text: cut(`*${escapeMrkdwn(f.label)}*\n${f.channel?.platform === 'slack' ? `<#${f.channel.id}>` : escapeMrkdwn(f.value)}`, L.fieldText, warnings, f.label),
      })),
    });
  }
  const context = [`${ACCENT_EMOJI[card.accent]}`, ...card.context.map(escapeMrkdwn)].slice(0, L.contextElements);
  if (card.outcome) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`*${escapeMrkdwn(card.outcome)}*`, L.sectionText, warnings, 'outcome') } });
  }
  blocks.push({ type: 'context', elements: context.map((text) => ({ type: 'mrkdwn', text: cut(text, L.fieldText, warnings, 'context') })) });
  if (card.buttons.length) {
    const seen = new Map<string, number>();
    blocks.push({
      type: 'actions',
      block_id: 'incident_actions',
      elements: card.buttons.slice(0, L.actionsElements).map((b) => {
        const n = (seen.get(b.actionId) ?? 0) + 1;
        seen.set(b.actionId, n);
        const repeated = card.buttons.filter((x) => x.actionId === b.actionId).length > 1;
        return {
          type: 'button',
          action_id: repeated ? `${b.actionId}#${n}` : b.actionId,
          text: { type: 'plain_text', text: cut(b.label, L.buttonText, warnings, 'button'), emoji: true },
          value: b.value,
          ...(b.style !== 'default' ? { style: b.style } : {}),
        };
      }),
    });
  }
  const text = cut(card.fallback || card.title, L.messageText, warnings, 'fallback');
  return { text, blocks, warnings };
}

/** The neutral action id of a Slack button (without the uniqueness suffix). */
export function neutralActionId(slackActionId: string): string {
  const i = slackActionId.indexOf('#');
  return i === -1 ? slackActionId : slackActionId.slice(0, i);
}

export const FORM_CALLBACK_ID = 'firebell.form';

/** A neutral form as a modal view; the form context travels in private_metadata. */
export function renderModal(form: NeutralForm, context: FormContext, closeLabel: string): { view: Record<string, unknown>; warnings: string[] } {
  const warnings: string[] = [];
  const blocks = form.fields.map((f) => {
    let element: Record<string, unknown>;
    if (f.kind === 'select') {
      const options = (f.options ?? []).slice(0, L.selectOptions).map((o) => ({
        text: { type: 'plain_text', text: cut(o.label, L.optionText, warnings, 'option') },
        value: o.value,
      }));
      const initial = options.find((o) => o.value === f.initial);
      element = { type: 'static_select', action_id: f.id, options, ...(initial ? { initial_option: initial } : {}) };
    } else {
      element = {
        type: 'plain_text_input',
        action_id: f.id,
        multiline: f.kind === 'multiline',
        ...(f.maxLength ? { max_length: Math.min(f.maxLength, L.plainTextInputMax) } : {}),
        ...(f.initial ? { initial_value: f.initial } : {}),
        ...(f.placeholder ? { placeholder: { type: 'plain_text', text: cut(f.placeholder, 150, warnings, 'placeholder') } } : {}),
      };
    }
    return {
      type: 'input',
      block_id: f.id,
      optional: f.optional,
      label: { type: 'plain_text', text: cut(f.label, L.inputLabel, warnings, 'label') },
      element,
    };
  });
  const metadata = JSON.stringify(context);
  if (metadata.length > L.privateMetadata) throw new Error('form context exceeds private_metadata limit');
  return {
    view: {
      type: 'modal',
      callback_id: FORM_CALLBACK_ID,
      private_metadata: metadata,
      title: { type: 'plain_text', text: cut(form.title, L.viewTitle, warnings, 'modal title') },
      submit: { type: 'plain_text', text: cut(form.submit, L.viewSubmit, warnings, 'submit') },
      close: { type: 'plain_text', text: cut(closeLabel, L.viewSubmit, warnings, 'close') },
      blocks: blocks.slice(0, L.viewBlocks),
    },
    warnings,
  };
}

/** Reads a submitted modal's values: `state.values[field][field]` (Slack wants action ids unique in a view). */
export function readModalValues(values: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (!values || typeof values !== 'object') return out;
  for (const [blockId, actions] of Object.entries(values as Record<string, Record<string, unknown>>)) {
    const v = (actions?.[blockId] ?? Object.values(actions ?? {})[0]) as { value?: unknown; selected_option?: { value?: unknown } | null } | undefined;
    if (!v) continue;
    const raw = v.selected_option?.value ?? v.value;
    out[blockId] = typeof raw === 'string' ? raw : undefined;
  }
  return out;
}
