import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../flows/ports';
import { withLogContext } from '../logger';
import type { Metrics } from './metrics';

export interface HttpServerOptions {
  /** Bolt's HTTP receiver for `POST /slack/events`, when Slack runs over HTTP. */
  slack?: RequestListener | null;
  /** Our Feishu glue for `POST /feishu/events` and `POST /feishu/card`, when Feishu runs over HTTP. */
  feishu?: RequestListener | null;
  /** Our DingTalk glue for `POST /dingtalk/events` (outgoing-robot callbacks), when DingTalk runs over HTTP. */
  dingtalk?: RequestListener | null;
  /** Readiness: resolves when the database (and later Redis) answer. */
  ready: () => Promise<void>;
  logger: Logger;
  /** `GET /metrics` (Prometheus text), and the request-duration histogram. */
  metrics?: { metrics: Metrics; render: () => Promise<string> };
}

/** The route a request is counted under (never the raw path: that would explode the labels). */
function routeOf(path: string): string {
  if (path === '/slack/events') return 'slack';
  if (path === '/feishu/events' || path === '/feishu/card') return 'feishu';
  if (path === '/dingtalk/events') return 'dingtalk';
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return 'ops';
  return 'other';
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * The one HTTP server: platform endpoints and health. A handler that throws answers 500 and is
 * logged; it never takes the process down.
 */
export function createHttpServer(opts: HttpServerOptions): Server {
  const { logger } = opts;
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // Every log line written while this request is handled carries its id (the caller's
    // X-Request-Id when it is a sane one), and the answer tells it back.
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.once('finish', () => opts.metrics?.metrics.observeRequest(routeOf(path), res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
    withLogContext({ requestId }, () => handle(req, res, path));
  });

  function handle(req: IncomingMessage, res: ServerResponse, path: string) {
    const fail = (err: unknown) => {
      logger.error('http handler failed', { path, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) json(res, 500, { error: 'internal_error' });
      else res.end();
    };
    try {
      if (path === '/slack/events') {
        if (!opts.slack) return json(res, 404, { error: 'slack_not_configured' });
        if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' });
        return void Promise.resolve(opts.slack(req, res)).catch(fail);
      }
      if (path === '/dingtalk/events') {
        if (!opts.dingtalk) return json(res, 404, { error: 'dingtalk_not_configured' });
        return void Promise.resolve(opts.dingtalk(req, res)).catch(fail);
      }
      if (path === '/feishu/events' || path === '/feishu/card') {
        if (!opts.feishu) return json(res, 404, { error: 'feishu_not_configured' });
        if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' });
        return void Promise.resolve(opts.feishu(req, res)).catch(fail);
      }
      if (path === '/healthz' && req.method === 'GET') return json(res, 200, { status: 'ok' });
      if (path === '/metrics' && req.method === 'GET' && opts.metrics) {
        return void opts.metrics
          .render()
          .then((text) => {
            res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
            res.end(text);
          })
          .catch((err: unknown) => {
            logger.warn('metrics unavailable', { error: err instanceof Error ? err.message : String(err) });
            json(res, 503, { status: 'unavailable' });
          });
      }
      if (path === '/readyz' && req.method === 'GET') {
        return void opts
          .ready()
          .then(() => json(res, 200, { status: 'ready' }))
          .catch((err: unknown) => {
            logger.warn('not ready', { error: err instanceof Error ? err.message : String(err) });
            json(res, 503, { status: 'unavailable' });
          });
      }
      json(res, 404, { error: 'not_found' });
    } catch (err) {
      fail(err);
    }
  }
}
