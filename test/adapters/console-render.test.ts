/**
 * The console's pure parts: card and form rendering, colour switching, wrapping, answers to form
 * questions, and the console ChatPort's numbering and in-place updates.
 */
import { describe, expect, it } from 'vitest';
import { answerField } from '../../src/adapters/console/form';
import { createConsolePort } from '../../src/adapters/console/port';
import { colorEnabled, displayWidth, renderCard, renderFieldQuestion, renderReply, wrap } from '../../src/adapters/console/render';
import { ui } from '../../src/adapters/console/strings';
import type { FormField, NeutralCard } from '../../src/flows/messages/card';
import { ChatDeliveryError } from '../../src/flows/ports';

const ESC = '\u001b[';

function card(over: Partial<NeutralCard> = {}): NeutralCard {
  return {
    fallback: 'INC-7 · Mail is slow [New]',
    title: 'INC-7 · Mail is slow',
    body: 'Since 9:00 every message takes a minute to arrive.',
    fields: [
      { label: 'Priority', value: 'P3 Medium' },
      { label: 'Status', value: 'New' },
    ],
    context: ['Reported by Zhang San 22 Nov, 10:42'],
    buttons: [
      { actionId: 'incident.accept', label: 'Accept', value: 'v1', style: 'primary' },
      { actionId: 'incident.resolve', label: 'Resolve', value: 'v2', style: 'default' },
      { actionId: 'incident.reject', label: 'Reject', value: 'v3', style: 'danger' },
    ],
    outcome: null,
    accent: 'medium',
    ...over,
  };
}

describe('renderCard', () => {
  it('shows title, body, fields, context and numbered buttons as plain text', () => {
    const text = renderCard(card(), 3);
    expect(text).toBe(
      [
        '╭─ [3] INC-7 · Mail is slow',
        '│ Since 9:00 every message takes a minute to arrive.',
        '│',
        '│ Priority: P3 Medium',
        '│ Status: New',
        '│ Reported by Zhang San 22 Nov, 10:42',
        '│ [3.1] Accept  [3.2] Resolve  [3.3] Reject',
        '╰─',
      ].join('\n'),
    );
    expect(text).not.toContain(ESC);
  });

  it('shows the outcome instead of buttons on a decided card', () => {
    const text = renderCard(card({ buttons: [], context: [], outcome: 'Accepted by Li Wei 10:42\nMoved to L1 engineers', accent: 'done' }), 4);
    expect(text).toContain('│ » Accepted by Li Wei 10:42\n│   Moved to L1 engineers');
    expect(text).not.toContain('[4.1]');
  });

  it('leaves buttons unnumbered without a card number', () => {
    expect(renderCard(card(), null)).toContain('│ [Accept]  [Resolve]  [Reject]');
    expect(renderCard(card(), null)).toMatch(/^╭─ INC-7/);
  });

  it('colours only when asked', () => {
    const text = renderCard(card(), 1, { color: true });
    expect(text).toContain(`${ESC}32mAccept${ESC}39m`);
    expect(text).toContain(`${ESC}31mReject${ESC}39m`);
    expect(renderReply('No', true, { color: true })).toContain(`${ESC}31m`);
    expect(renderReply('No', true)).toBe('✖ No');
  });

  it('wraps long values and Chinese text within the width', () => {
    const long = card({
      body: '用户反馈邮件系统在上午九点之后每封邮件都需要大约一分钟才能送达，影响了整个销售部门的日常工作。',
      fields: [{ label: 'Resolution', value: 'Configuration change: '.repeat(6).trim() }],
      buttons: [],
      outcome: null,
    });
    const text = renderCard(long, 2, { width: 40 });
    for (const line of text.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(40);
    expect(text).toContain('│   Configuration');
  });
});

describe('text helpers', () => {
  it('counts CJK as two columns and ignores ANSI codes', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('报障')).toBe(4);
    expect(displayWidth(`${ESC}1mab${ESC}22m`)).toBe(2);
  });

  it('wraps at spaces, between CJK characters, and hard inside long words', () => {
    expect(wrap('one two three four', 9)).toEqual(['one two', 'three', 'four']);
    expect(wrap('一二三四五六七八九十', 8)).toEqual(['一二三四', '五六七八', '九十']);
    expect(wrap('abcdefghijklmnop', 8)).toEqual(['abcdefgh', 'ijklmnop']);
    expect(wrap('a\n\nb', 8)).toEqual(['a', '', 'b']);
  });

  it('turns colour off for NO_COLOR and for non-TTY output', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled(undefined, {})).toBe(false);
  });
});

describe('form questions', () => {
  const code: FormField = {
    id: 'code',
    label: 'Resolution code',
    kind: 'select',
    optional: false,
    initial: 'fixed',
    options: [
      { value: 'fixed', label: 'Fixed' },
      { value: 'workaround', label: 'Workaround' },
    ],
  };
  const reason: FormField = { id: 'reason', label: 'Reason', kind: 'multiline', optional: false, maxLength: 10 };
  const until: FormField = { id: 'until', label: 'Wait until', kind: 'datetime', optional: true, placeholder: 'YYYY-MM-DD HH:mm' };

  it('numbers the choices and marks the default', () => {
    const text = renderFieldQuestion(code, 'en');
    expect(text).toContain('Resolution code (type a number or a value; Enter keeps: Fixed)');
    expect(text).toContain(' * 1) Fixed');
    expect(text).toContain('   2) Workaround');
    expect(renderFieldQuestion(until, 'en')).toContain('Wait until (Enter skips; YYYY-MM-DD HH:mm)');
  });

  it('takes a number, a value or a label; Enter keeps the default; cancel cancels', () => {
    expect(answerField(code, '2', 'en')).toEqual({ kind: 'value', value: 'workaround' });
    expect(answerField(code, 'WORKAROUND', 'en')).toEqual({ kind: 'value', value: 'workaround' });
    expect(answerField(code, 'Fixed', 'en')).toEqual({ kind: 'value', value: 'fixed' });
    expect(answerField(code, '', 'en')).toEqual({ kind: 'value', value: 'fixed' });
    expect(answerField(code, '3', 'en')).toMatchObject({ kind: 'again', message: expect.stringContaining('from 1 to 2') });
    expect(answerField(code, ' cancel ', 'en')).toEqual({ kind: 'cancel' });
    expect(answerField(code, '取消', 'zh-CN')).toEqual({ kind: 'cancel' });
  });

  it('skips optional fields, insists on required ones and checks the length', () => {
    expect(answerField(until, '', 'en')).toEqual({ kind: 'value', value: undefined });
    expect(answerField(reason, '  ', 'en')).toMatchObject({ kind: 'again' });
    expect(answerField(reason, 'x'.repeat(11), 'en')).toMatchObject({ kind: 'again', message: expect.stringContaining('at most 10') });
    expect(answerField(reason, ' disk full ', 'en')).toEqual({ kind: 'value', value: 'disk full' });
  });
});

describe('console strings', () => {
  it('come from the shared catalog in the person\'s language', () => {
    expect(ui('zh-CN', 'console.card', { no: 3 })).toBe('卡片 3');
    expect(ui('en', 'console.card', { no: 3 })).toBe('card 3');
  });
});

describe('createConsolePort', () => {
  it('numbers cards, updates them in place and keeps the latest version', async () => {
    let out = '';
    const port = createConsolePort({ write: (s) => void (out += s) }, { session: 's1' });
    const a = await port.postCard({ type: 'channel', id: 'desk' }, card());
    const b = await port.postCard({ type: 'user', id: 'zhang.san' }, card({ title: 'INC-8 · Printer' }));
    expect(a).toEqual({ channel: '#desk', messageId: 's1:1' });
    expect(b).toEqual({ channel: '@zhang.san', messageId: 's1:2' });
    expect(out).toContain('── #desk · card 1 ──\n╭─ [1] INC-7 · Mail is slow');
    expect(out).toContain('── @zhang.san · card 2 ──');

    out = '';
    await port.updateCard(a, card({ buttons: [], outcome: 'Accepted by Li Wei 10:42' }));
    expect(out).toContain('── #desk · card 1 (updated) ──');
    expect(port.card(1)!.card.buttons).toEqual([]);
    expect(port.card(1)!.target).toEqual({ type: 'channel', id: 'desk' });
    expect(port.cards().map((c) => c.no)).toEqual([1, 2]);

    out = '';
    const sent = await port.sendText({ type: 'user', id: 'zhang.san' }, '*INC-7*: taken\nsecond line');
    expect(out).toBe('→ @zhang.san: INC-7: taken\n  second line\n');
    expect(sent.channel).toBe('@zhang.san');
    expect(port.show(2)).toBe(true);
    expect(port.show(9)).toBe(false);
  });

  it('shows a card bound by an earlier run under a new number, and refuses what it cannot place', async () => {
    let out = '';
    const port = createConsolePort({ write: (s) => void (out += s) }, { session: 'now', locale: 'zh-CN' });
    await port.updateCard({ channel: '#l1', messageId: 'before:5' }, card());
    expect(out).toContain('── #l1 · 卡片 1 （已更新） ──');
    await port.updateCard({ channel: '#l1', messageId: 'before:5' }, card({ title: 'again' }));
    expect(port.cards()).toHaveLength(1);
    expect(port.card(1)!.card.title).toBe('again');
    await expect(port.updateCard({ channel: 'C123', messageId: 'x' }, card())).rejects.toBeInstanceOf(ChatDeliveryError);
  });
});
