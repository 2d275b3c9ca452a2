import type { Incident } from '../incident/model';
import type { Rejection } from '../incident/rejection';
import type { Locale } from '../policy/policy';
import { t, type MessageKey } from './catalog';

/** A refusal in the person's language, naming whom to ask or what to fix. */
export function refusalText(r: Rejection, incident: Incident | null, locale: Locale, ref = '', selfId?: string): string {
  const number = incident?.number ?? ref;
  const status = incident ? t(locale, `status.${incident.status}` as MessageKey) : '';
  const tier = incident ? t(locale, `tier.${incident.tier}` as MessageKey) : '';
  switch (r.reason) {
    case 'not_found':
      return t(locale, 'refuse.not_found', { ref: ref || number });
    case 'forbidden':
      return t(locale, `refuse.forbidden.${r.need}` as MessageKey, {
        number,
        tier,
        assignee: incident?.assignee?.name ?? t(locale, 'card.nobody'),
        reporter: incident?.reporter.name ?? '',
      });
    case 'already_accepted':
      return r.by.id === selfId
        ? t(locale, 'refuse.already_accepted_by_you', { number })
        : t(locale, 'refuse.already_accepted', { number, by: r.by.name });
    case 'invalid_state':
      return t(locale, 'refuse.invalid_state', { number, status: t(locale, `status.${r.status}` as MessageKey) });
    case 'stale_card':
      return t(locale, 'refuse.stale_card', { number, status });
    case 'no_higher_tier':
      return t(locale, 'refuse.no_higher_tier', { number, tier });
    case 'already_rated':
    case 'same_tier':
    case 'busy':
    case 'already_major':
    case 'not_major':
    case 'nothing_changed':
      return t(locale, `refuse.${r.reason}`, { number });
    case 'no_room':
      return t(locale, 'reply.no_room', { number });
    case 'already_linked':
      return t(locale, 'refuse.already_linked', { number, to: r.to });
    case 'unknown_person':
    case 'not_in_tier':
      return t(locale, `refuse.${r.reason}`, { who: r.who });
    case 'invalid_input': {
      const [problem, arg] = r.problem.split(':');
      const [min, max] = (arg ?? '').split('-');
      const problemText = t(locale, `problem.${problem}` as MessageKey, { max: max ?? arg ?? '', min: min ?? '' });
      return t(locale, 'refuse.invalid_input', { field: t(locale, `field.${r.field}` as MessageKey), problem: problemText });
    }
  }
}
