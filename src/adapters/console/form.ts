/**
 * Answers to form questions typed in the console: pure parsing of one line for one field.
 */
import type { FormField } from '../../flows/messages/card';
import type { Locale } from '../../flows/policy/policy';
import { ui } from './strings';

/** Words that abandon a form being filled in. */
export const CANCEL_WORDS: ReadonlySet<string> = new Set(['cancel', '取消']);

/** What a typed line means for a field: its value (undefined = left empty), cancel, or ask again. */
export type FieldAnswer = { kind: 'value'; value: string | undefined } | { kind: 'cancel' } | { kind: 'again'; message: string };

/**
 * Interprets `raw` as the answer to `field`: Enter keeps the initial value or skips an optional
 * field; a select takes the number of a choice, its value or its label (case-insensitive);
 * `cancel` abandons the form. Anything else that does not fit asks again with a reason.
 */
export function answerField(field: FormField, raw: string, locale: Locale): FieldAnswer {
  const text = raw.trim();
  if (CANCEL_WORDS.has(text.toLowerCase())) return { kind: 'cancel' };
  if (!text) {
    if (field.initial) return { kind: 'value', value: field.initial };
    if (field.optional) return { kind: 'value', value: undefined };
    return { kind: 'again', message: ui(locale, 'console.form.required') };
  }
  const options = field.options ?? [];
  if (options.length) {
    if (/^\d+$/.test(text)) {
      const chosen = options[Number(text) - 1];
      if (chosen) return { kind: 'value', value: chosen.value };
    }
    const lower = text.toLowerCase();
    const match = options.find((o) => o.value.toLowerCase() === lower) ?? options.find((o) => o.label.toLowerCase() === lower);
    if (match) return { kind: 'value', value: match.value };
    return { kind: 'again', message: ui(locale, 'console.form.not_a_choice', { text, max: options.length }) };
  }
  const length = Array.from(text).length;
  if (field.maxLength && length > field.maxLength) {
    return { kind: 'again', message: ui(locale, 'console.form.too_long', { length, max: field.maxLength }) };
  }
  return { kind: 'value', value: text };
}
