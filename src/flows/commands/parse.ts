import { PRIORITIES, type Priority } from '../incident/model';
import { truncate } from '../messages/format';
import { LIMITS } from '../incident/decide';

/** What a typed command asks for; platform-neutral (Slack `/incident …`, console, later Feishu/DingTalk). */
export type ParsedCommand =
  | { kind: 'form'; title: string }
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'status'; number: string | null }
  | { kind: 'report'; title: string; description: string }
  | { kind: 'priority'; number: string; priority: Priority; reason: string }
  | { kind: 'sla'; number: string | null }
  | { kind: 'error'; key: 'command.status_needs_number' | 'command.priority_usage' | 'command.sla_usage'; text: string };

const ALIASES: Record<string, 'help' | 'list' | 'status' | 'report' | 'priority' | 'sla'> = {
  sla: 'sla',
  时效: 'sla',
  时限: 'sla',
  priority: 'priority',
  优先级: 'priority',
  help: 'help',
  '?': 'help',
  帮助: 'help',
  list: 'list',
  ls: 'list',
  列表: 'list',
  status: 'status',
  st: 'status',
  状态: 'status',
  report: 'report',
  报障: 'report',
};

const LOOKS_LIKE_NUMBER = /^(#|inc\b|inc-|\d)/i;

/** `INC-42`, `inc-42`, `#42` or `42`: normalised to `INC-42`; null when it is not a number. */
export function parseIncidentNumber(text: string): string | null {
  const m = /^(?:#|inc-?)?(\d{1,12})$/i.exec(text.trim());
  return m ? `INC-${Number(m[1])}` : null;
}

/** Splits free text into a title (first line, cut to the title limit) and the full description. */
export function titleAndDescription(text: string): { title: string; description: string } {
  const trimmed = text.trim();
  const firstLine = trimmed.split(/\r?\n/)[0]!.trim();
  const title = truncate(firstLine, LIMITS.title);
  const description = trimmed === title ? '' : truncate(trimmed, LIMITS.description);
  return { title, description };
}

/** Parses the text after the command name. Never throws; anything not a sub-command is a report. */
export function parseCommand(raw: string): ParsedCommand {
  const text = (raw ?? '').replace(/\u00a0/g, ' ').trim();
  if (!text) return { kind: 'form', title: '' };
  const [head = '', ...rest] = text.split(/\s+/);
  const sub = ALIASES[head.toLowerCase()];
  const tail = text.slice(head.length).trim();
  // A sub-command word followed by other words is a report that happens to start with it
  // ("status page is down", "list of printers is wrong"): never lose someone's report.
  switch (sub) {
    case 'help':
      if (tail) break;
      return { kind: 'help' };
    case 'list':
      if (tail) break;
      return { kind: 'list' };
    case 'status':
    case 'sla': {
      // status [INC-12] / sla [INC-12]: one incident, or the caller's own view without a number.
      if (!tail) return { kind: sub, number: null };
      const number = parseIncidentNumber(tail);
      if (number && rest.length === 1) return { kind: sub, number };
      // One token that was meant as a number ("INC-1x", "#12a"): say so instead of filing it.
      if (rest.length === 1 && LOOKS_LIKE_NUMBER.test(tail)) {
        return { kind: 'error', key: sub === 'status' ? 'command.status_needs_number' : 'command.sla_usage', text: tail };
      }
      break;
    }
    case 'report':
      return tail ? { kind: 'report', ...titleAndDescription(tail) } : { kind: 'form', title: '' };
    case 'priority': {
      // priority INC-12 P2 <reason>: the desk correcting a classification (DOMAIN.md §2).
      const [ref = '', level = '', ...why] = rest;
      const number = parseIncidentNumber(ref);
      const priority = level.toUpperCase() as Priority;
      if (number && PRIORITIES.includes(priority)) return { kind: 'priority', number, priority, reason: why.join(' ') };
      if (number || LOOKS_LIKE_NUMBER.test(ref)) return { kind: 'error', key: 'command.priority_usage', text: tail };
      break;
    }
  }
  return { kind: 'report', ...titleAndDescription(text) };
}
