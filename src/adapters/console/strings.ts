/**
 * The console chat's own UI words (prompts, help, hints), in English and Simplified Chinese.
 *
 * These are meant for the shared catalog (src/flows/messages/catalog.ts); until they are added
 * there, this local map is the fallback. `ui()` prefers the catalog as soon as it has a key, so
 * moving a string into the catalog needs no change here.
 */
import { isMessageKey, t } from '../../flows/messages/catalog';
import type { Locale } from '../../flows/policy/policy';

const en = {
  'console.welcome': 'Firebell console chat. You are {who}. Type help to see how it works, quit to leave.',
  'console.help': [
    'Console chat: act as any configured person, type the same commands as in chat, press buttons by number.',
    '  as <person>          act as someone else (also: su); as guest:<name> acts as an unknown reporter',
    '  who                  the people, with their tiers and roles',
    '  {command} <text>     the bot command, as in Slack (also bare: report, status, list, 报障, 状态, 列表)',
    '  3.1                  press button 1 of card 3, as the person you are now',
    '  cards                the cards posted so far; show 3 prints card 3 again',
    '  quit                 leave (also: exit)',
    'In a form, answer each question and press Enter; cancel stops the form, quit stops the form and the chat.',
  ].join('\n'),
  'console.help.bot': 'What the bot understands:',
  'console.as.now': 'You are now {who}.',
  'console.as.usage': 'Usage: as <person>, for example as {example}. Type who to see the people.',
  'console.as.unknown': 'I do not know "{key}". Type who to see the people, or as guest:<name> to act as a guest.',
  'console.who.title': 'People (type as <key> to act as one of them):',
  'console.who.nothing': 'reporter only',
  'console.who.guest': 'Anyone else: as guest:<name> (a reporter the policy does not know).',
  'console.who.you': 'you',
  'console.role.incident_manager': 'incident manager',
  'console.role.project_manager': 'project manager',
  'console.role.management': 'management',
  'console.role.approver': 'approver',
  'console.card': 'card {no}',
  'console.updated': '(updated)',
  'console.cards.none': 'No cards yet. Report something: {command} <what is wrong>.',
  'console.cards.title': 'Cards (type <card>.<button> to press a button, show <card> to see one):',
  'console.cards.buttons': '{count} buttons',
  'console.cards.decided': 'decided',
  'console.card.unknown': 'There is no card {no}. Type cards to see the cards.',
  'console.button.unknown': 'Card {no} has no button {button}: its buttons are {no}.1 to {no}.{max}.',
  'console.button.none': 'Card {no} has no buttons any more: {outcome}',
  'console.buttons.unnumbered': 'To press a button, use the numbered card (type cards).',
  'console.show.usage': 'Usage: show <card number>, for example show 1.',
  'console.unknown': 'I did not understand "{text}". Type help to see the commands, or {command} <text> to report a problem.',
  'console.error': 'Something went wrong: {message}. Nothing else was affected; carry on.',
  'console.form.intro': 'Answer each question and press Enter; type cancel to stop.',
  'console.form.keep': 'Enter keeps: {value}',
  'console.form.optional': 'Enter skips',
  'console.form.choose': 'type a number or a value',
  'console.form.required': 'An answer is needed here (or type cancel to stop).',
  'console.form.not_a_choice': '"{text}" is not one of the choices: type a number from 1 to {max}.',
  'console.form.too_long': 'That is {length} characters; at most {max} fit.',
  'console.form.fix': 'Please correct:',
  'console.form.cancelled': 'Cancelled; nothing was sent.',
  'console.bye': 'Bye.',
} as const satisfies Record<string, string>;

/** A key of the console's own strings. */
export type ConsoleStringKey = keyof typeof en;

const zh: Record<ConsoleStringKey, string> = {
  'console.welcome': 'Firebell 控制台聊天。您现在是 {who}。输入 help 查看用法，quit 退出。',
  'console.help': [
    '控制台聊天：可以扮演任何已配置的人员，输入与聊天中相同的命令，按编号点击按钮。',
    '  as <人员>            切换身份（也可用 su）；as guest:<名字> 以未登记的报告人身份操作',
    '  who                  列出人员及其层级和角色',
    '  {command} <内容>     机器人命令，与 Slack 中相同（也可直接输入：report、status、list、报障、状态、列表）',
    '  3.1                  以当前身份点击卡片 3 的第 1 个按钮',
    '  cards                列出已发布的卡片；show 3 重新显示卡片 3',
    '  quit                 退出（也可用 exit）',
    '填写表单时逐项回答并按回车；cancel 取消表单，quit 取消表单并退出。',
  ].join('\n'),
  'console.help.bot': '机器人支持的命令：',
  'console.as.now': '您现在是 {who}。',
  'console.as.usage': '用法：as <人员>，例如 as {example}。输入 who 查看人员。',
  'console.as.unknown': '不认识“{key}”。输入 who 查看人员，或用 as guest:<名字> 以访客身份操作。',
  'console.who.title': '人员（输入 as <key> 切换为该人员）：',
  'console.who.nothing': '仅报告人',
  'console.who.guest': '其他任何人：as guest:<名字>（策略中未登记的报告人）。',
  'console.who.you': '当前',
  'console.role.incident_manager': '事件经理',
  'console.role.project_manager': '项目经理',
  'console.role.management': '管理层',
  'console.role.approver': '审批人',
  'console.card': '卡片 {no}',
  'console.updated': '（已更新）',
  'console.cards.none': '还没有卡片。先报障：{command} <问题描述>。',
  'console.cards.title': '卡片（输入 <卡片>.<按钮> 点击按钮，show <卡片> 查看）：',
  'console.cards.buttons': '{count} 个按钮',
  'console.cards.decided': '已处理',
  'console.card.unknown': '没有卡片 {no}。输入 cards 查看所有卡片。',
  'console.button.unknown': '卡片 {no} 没有按钮 {button}：可用按钮为 {no}.1 至 {no}.{max}。',
  'console.button.none': '卡片 {no} 已没有按钮：{outcome}',
  'console.buttons.unnumbered': '要点击按钮，请使用带编号的卡片（输入 cards）。',
  'console.show.usage': '用法：show <卡片编号>，例如 show 1。',
  'console.unknown': '无法理解“{text}”。输入 help 查看命令，或用 {command} <内容> 报障。',
  'console.error': '出错了：{message}。其他内容不受影响，可以继续。',
  'console.form.intro': '逐项回答并按回车；输入 cancel 取消。',
  'console.form.keep': '回车保留：{value}',
  'console.form.optional': '回车跳过',
  'console.form.choose': '输入编号或取值',
  'console.form.required': '此项必填（输入 cancel 取消）。',
  'console.form.not_a_choice': '“{text}”不在选项中：请输入 1 到 {max} 之间的编号。',
  'console.form.too_long': '共 {length} 个字符，最多 {max} 个。',
  'console.form.fix': '请修改：',
  'console.form.cancelled': '已取消，未提交任何内容。',
  'console.bye': '再见。',
};

/** The fallback map, per locale (to be merged into the shared catalog). */
export const CONSOLE_STRINGS: Record<'en' | 'zh-CN', Record<ConsoleStringKey, string>> = { en, 'zh-CN': zh };

/**
 * A console UI string in `locale`, with `{name}` parameters filled. Uses the shared catalog when
 * it has the key, else the local map; unknown parameters stay visible as `{name}`.
 */
export function ui(locale: Locale, key: ConsoleStringKey, params: Record<string, string | number> = {}): string {
  if (isMessageKey(key)) return t(locale, key, params);
  const template = CONSOLE_STRINGS[locale]?.[key] ?? en[key];
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}
