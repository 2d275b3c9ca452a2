/**
 * Slack's Block Kit and Web API limits (docs.slack.dev/reference/block-kit, chat.postMessage,
 * views.open). Render keeps every payload inside them and reports what it had to cut.
 */
export const SLACK_LIMITS = {
  /** blocks per message */
  messageBlocks: 50,
  /** blocks per modal view */
  viewBlocks: 100,
  /** header block plain_text */
  headerText: 150,
  /** section text (mrkdwn) */
  sectionText: 3000,
  /** section fields: count and characters each */
  sectionFields: 10,
  fieldText: 2000,
  /** context block elements */
  contextElements: 10,
  /** actions block elements */
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  /** modal title, submit and close labels */
  viewTitle: 24,
  viewSubmit: 24,
  inputLabel: 2000,
  optionText: 75,
  selectOptions: 100,
  privateMetadata: 3000,
  plainTextInputMax: 3000,
  /** chat.postMessage `text`: longer is truncated by Slack */
  messageText: 40000,
  /** conversations.create `name`: at most 80 characters of `[a-z0-9_-]` */
  channelName: 80,
  /** conversations.setTopic / setPurpose: 250 characters */
  topic: 250,
  /** conversations.invite `users`: up to 1000 ids per call */
  inviteBatch: 1000,
  /** conversations.list `limit`: at most 1000 per page */
  listPage: 1000,
} as const;

/** Slack error codes that retrying cannot fix: the outbox parks the item instead. */
export const PERMANENT_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'message_not_found',
  'cant_update_message',
  'invalid_blocks',
  'invalid_arguments',
  'msg_too_long',
  'no_text',
  'user_not_found',
  'cannot_dm_bot',
  // conversations.create: a name Slack will never take, or a workspace that forbids creating
  'invalid_name_required',
  'invalid_name_specials',
  'invalid_name_maxlength',
  'invalid_name_punctuation',
  'restricted_action',
]);
