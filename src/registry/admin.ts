// The local admin API under /_layerd/: JSON for the CLI (`layerd gc`, `peers`, `status`, `pull`)
// and the status page. Loopback clients only; each route declares its method, another method
// answers 405. A route named `name/` answers `/_layerd/name/<rest>` and is given `<rest>`.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { InvalidRequestError } from '../errors.js'
import { sendJson } from './http.js'

export interface AdminRoute {
  method: 'GET' | 'POST'
  handle: (req: IncomingMessage, rest: string) => Promise<unknown>
}

export type AdminRoutes = Record<string, AdminRoute>

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

/** Admin endpoints change state (gc) and show what this machine pulls: only for this machine. */
export function fromLoopback (req: IncomingMessage): boolean {
  return LOOPBACK.has(req.socket.remoteAddress ?? '')
}

/** Answer `/_layerd/<name>`. */
export async function serveAdmin (routes: AdminRoutes, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const slash = name.indexOf('/')
  const key = slash < 0 ? name : name.slice(0, slash + 1)
  const route = Object.hasOwn(routes, key) ? routes[key] : undefined
  if (route === undefined) { sendJson(res, 404, { error: 'unknown admin endpoint' }); return }
  if (!fromLoopback(req)) { sendJson(res, 403, { error: 'admin endpoints answer loopback clients only' }); return }
  const method = req.method === 'HEAD' ? 'GET' : req.method
  if (method !== route.method) { sendJson(res, 405, { error: `use ${route.method}` }, { Allow: route.method }); return }
  sendJson(res, 200, await route.handle(req, slash < 0 ? '' : name.slice(slash + 1)))
}

/** The JSON object of a request body (at most `maxBytes`); InvalidRequestError otherwise. */
export async function readJsonBody (req: IncomingMessage, maxBytes = 64 * 1024): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    total += c.length
    if (total > maxBytes) throw new InvalidRequestError(`request body over ${maxBytes} bytes`)
    chunks.push(c)
  }
  let j: unknown
  try { j = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { throw new InvalidRequestError('request body is not JSON') }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new InvalidRequestError('request body must be a JSON object')
  return j as Record<string, unknown>
}
