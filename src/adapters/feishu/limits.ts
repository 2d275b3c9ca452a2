/**
 * Feishu (Lark) limits that render keeps every payload inside, with where each number comes from.
 * Render cuts or trims to stay inside them and reports what it did as a warning, never a failure.
 *
 * Documented by Feishu:
 * - Send message (`POST /open-apis/im/v1/messages`, field `content`): "文本消息请求体最大不能超过
 *   150KB；卡片及富文本消息请求体最大不能超过30KB" (the text request body at most 150 KB, a card
 *   or post request body at most 30 KB). Over the card limit the API answers code 230025
 *   (PLATFORMS.md "More facts"). KB is not defined there; we read it as 1000 bytes, the smaller.
 * - Card JSON 2.0 structure (open.feishu.cn/document/feishu-cards/card-json-v2-structure): one card
 *   holds at most 200 components or elements; `config.update_multi` may only be `true`.
 * - Card JSON 2.0 input (…/card-json-v2-components/interactive-components/input): `max_length`
 *   is 1 to 1000 characters; placeholder at most 100 characters.
 *
 * From Feishu's own card reference for its CLI (github.com/larksuite/cli,
 * skills/lark-im/references/card/components/button.md): button text at most 100 characters.
 *
 * Firebell's own caps (no Feishu number found; chosen to keep cards readable and the 30 KB budget
 * predictable): marked "ours" below.
 */
export const FEISHU_LIMITS = {
  /** Request body of a card message (`msg_type: interactive`), in bytes (30 KB, read as 30 000). */
  cardRequestBytes: 30_000,
  /** Request body of a text message (`msg_type: text`), in bytes (150 KB, read as 150 000). */
  textRequestBytes: 150_000,
  /**
   * Bytes kept free for the rest of the request around `content` (receive_id, msg_type, uuid) and
   * for the callback response envelope (`{toast, card:{type:'raw', data}}`). Ours.
   */
  envelopeReserveBytes: 1_000,
  /** Components or elements in one JSON 2.0 card. */
  cardComponents: 200,
  /** Input `max_length` upper bound. */
  inputMaxLength: 1000,
  /** Input / select placeholder text. */
  placeholderText: 100,
  /** Button text. */
  buttonText: 100,

  /** Header title, characters. Ours (the header shows at most 4 lines). */
  headerTitle: 200,
  /** Body text before escaping, characters. Ours; the 30 KB budget usually binds first for CJK text. */
  bodyText: 10_000,
  /** A field's label / value, characters. Ours. */
  fieldLabel: 100,
  fieldValue: 1000,
  /** Context lines shown, and characters each. Ours. */
  contextLines: 10,
  contextLine: 500,
  /** The outcome line(s) of a decided card, characters. Ours. */
  outcomeText: 2000,
  /** Buttons on one card. Ours (Firebell offers at most 5; the card limit is the 200 components). */
  buttons: 20,
  /** Fields never dropped when a card is trimmed to fit. Ours. */
  keptFields: 8,
  /** Notification / preview summary (`config.summary`, fallbackText), characters. Ours. */
  summaryText: 200,
  /** Options in one select. Ours (Slack's 100, which Firebell's forms already respect). */
  selectOptions: 100,
  /** Form label shown above each input, characters. Ours. */
  formLabel: 200,
  /** The opaque form context carried by the submit button's callback value, characters. Ours. */
  formContext: 2000,
  /** One submitted form value, characters; longer ones are refused as tampered. Ours. */
  formValue: 10_000,
} as const;

/** Header colours (`header.template`) of a JSON 2.0 card that Firebell uses. */
export const HEADER_TEMPLATES = ['red', 'orange', 'yellow', 'blue', 'grey', 'green'] as const;

/** The AppLink that opens a chat by its `oc_…` id (AppLink protocol "打开聊天页面", Feishu 3.9+). */
export const CHAT_APPLINK = {
  feishu: 'https://applink.feishu.cn/client/chat/open',
  lark: 'https://applink.larksuite.com/client/chat/open',
} as const;
