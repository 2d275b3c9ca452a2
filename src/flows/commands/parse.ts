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
  /** `major INC-12` declares; `major <text>` files and declares at once (先处理后补单). */
  | { kind: 'major'; number: string | null; text: string }
  /**
   * A status update or a note. Without a number it belongs to the war room it is typed in; typed
   * anywhere else it is a report after all (`raw` is then filed whole: never lose a report).
   */
  | { kind: 'update' | 'note'; number: string | null; text: string; raw: string }
  /** The analysis report of a major incident (`report INC-12 [md]`; in its room the number may go). */
  | { kind: 'analysis'; number: string | null; markdown: boolean }
  | { kind: 'link'; child: string; major: string }
  /** A card action typed: `accept INC-12`, `升级 INC-12 <reason>`, `resolve INC-12 [code] <note>`. */
  | { kind: 'act'; action: TypedAction; number: string; text: string }
  | {
      kind: 'error';
      key: 'command.status_needs_number' | 'command.priority_usage' | 'command.sla_usage' | 'command.major_usage' | 'command.update_usage' | 'command.note_usage' | 'command.link_usage';
      text: string;
    };

const ALIASES: Record<string, 'help' | 'list' | 'status' | 'report' | 'priority' | 'sla' | 'major' | 'update' | 'note' | 'link' | 'analysis'> = {
  major: 'major',
  重大: 'major',
  重大事件: 'major',
  update: 'update',
  进展: 'update',
  更新: 'update',
  note: 'note',
  记录: 'note',
  备注: 'note',
  link: 'link',
  关联: 'link',
  报告: 'analysis',
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

/** The card actions that can also be typed (for chats without buttons, and for keyboards). */
export type TypedAction =
  | 'incident.accept'
  | 'incident.escalate'
  | 'incident.resolve'
  | 'incident.reject'
  | 'incident.reopen'
  | 'incident.hold'
  | 'incident.resume'
  | 'incident.confirm'
  | 'incident.rate'
  | 'request.approve'
  | 'request.deny'
  | 'war_room.join'
  | 'incident.reassign'
  | 'major.confirm'
  | 'major.downgrade';

const ACTION_VERBS: Record<string, TypedAction> = {
  accept: 'incident.accept',
  受理: 'incident.accept',
  接单: 'incident.accept',
  escalate: 'incident.escalate',
  升级: 'incident.escalate',
  resolve: 'incident.resolve',
  解决: 'incident.resolve',
  reject: 'incident.reject',
  驳回: 'incident.reject',
  reopen: 'incident.reopen',
  重开: 'incident.reopen',
  重新打开: 'incident.reopen',
  hold: 'incident.hold',
  挂起: 'incident.hold',
  resume: 'incident.resume',
  恢复: 'incident.resume',
  confirm: 'incident.confirm',
  确认: 'incident.confirm',
  rate: 'incident.rate',
  评分: 'incident.rate',
  approve: 'request.approve',
  批准: 'request.approve',
  deny: 'request.deny',
  拒绝: 'request.deny',
  join: 'war_room.join',
  加入: 'war_room.join',
  reassign: 'incident.reassign',
  转派: 'incident.reassign',
  'confirm-major': 'major.confirm',
  确认重大: 'major.confirm',
  downgrade: 'major.downgrade',
  降级: 'major.downgrade',
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
  // An action verb counts only when a number follows ("resolve INC-12 …"); "resolve the DNS
  // issue" is a report.
  const verb = ACTION_VERBS[head.toLowerCase()];
  const target = verb && rest[0] ? parseIncidentNumber(rest[0]) : null;
  if (verb && target) return { kind: 'act', action: verb, number: target, text: tail.slice(rest[0]!.length).trim() };
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
    case 'analysis': {
      // report INC-12 [md]: the analysis report; report <text>: file one (as before).
      const [ref = '', fmt = ''] = rest;
      const number = parseIncidentNumber(ref);
      const md = /^(md|markdown)$/i.test(fmt);
      if (number && (rest.length === 1 || (rest.length === 2 && md))) return { kind: 'analysis', number, markdown: md };
      if (sub === 'analysis' || (rest.length === 1 && /^(md|markdown)$/i.test(ref))) {
        if (!tail || /^(md|markdown)$/i.test(tail)) return { kind: 'analysis', number: null, markdown: !!tail };
      }
      if (sub === 'analysis') break;
      return tail ? { kind: 'report', ...titleAndDescription(tail) } : { kind: 'form', title: '' };
    }
    case 'major': {
      if (!tail) return { kind: 'error', key: 'command.major_usage', text: '' };
      const number = parseIncidentNumber(tail);
      if (number && rest.length === 1) return { kind: 'major', number, text: '' };
      if (rest.length === 1 && LOOKS_LIKE_NUMBER.test(tail) && /^(#|inc)/i.test(tail)) return { kind: 'error', key: 'command.major_usage', text: tail };
      return { kind: 'major', number: null, text: tail };
    }
    case 'update':
    case 'note': {
      const [ref = ''] = rest;
      const number = parseIncidentNumber(ref);
      const body = number ? tail.slice(ref.length).trim() : tail;
      if (!body) {
        if (!tail || number) return { kind: 'error', key: sub === 'update' ? 'command.update_usage' : 'command.note_usage', text: tail };
      }
      return { kind: sub, number, text: body, raw: text };
    }
    case 'link': {
      const [a = '', b = ''] = rest;
      const child = parseIncidentNumber(a);
      const major = parseIncidentNumber(b);
      if (child && major && rest.length === 2) return { kind: 'link', child, major };
      if (child || LOOKS_LIKE_NUMBER.test(a)) return { kind: 'error', key: 'command.link_usage', text: tail };
      break;
    }
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
