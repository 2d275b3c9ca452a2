/**
 * The console chat's own UI words (prompts, help, hints). They live in the shared catalog
 * (src/flows/messages/catalog.ts, keys `console.*`) like every user-facing string; this is the
 * console's typed view of them.
 */
import { t, type MessageKey } from '../../flows/messages/catalog';
import type { Locale } from '../../flows/policy/policy';

export type ConsoleStringKey = Extract<MessageKey, `console.${string}`>;

/** A console UI string in the given language. */
export function ui(locale: Locale, key: ConsoleStringKey, params: Record<string, string | number> = {}): string {
  return t(locale, key, params);
}
