/**
 * A request refused with an HTTP status and a short machine-readable reason, thrown by the
 * platform endpoints' own glue (Feishu, DingTalk) and answered by it as a 4xx.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

/**
 * The body as a JSON object. Throws HttpError 400 `not_json` or `not_an_object`: every platform
 * here sends one JSON object per callback, so anything else is not from it.
 */
export function parseJsonObject(raw: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'not_json');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'not_an_object');
  return body as Record<string, unknown>;
}
