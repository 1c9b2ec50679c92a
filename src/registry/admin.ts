// The local admin API under /_layerd/: JSON for the CLI (`layerd gc`, `layerd peers`, status).
// Loopback clients only; each route declares its method, another method answers 405.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { sendJson } from './http.js'

export interface AdminRoute {
  method: 'GET' | 'POST'
  handle: (req: IncomingMessage) => Promise<unknown>
}

export type AdminRoutes = Record<string, AdminRoute>

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

/** Answer `/_layerd/<name>`. */
export async function serveAdmin (routes: AdminRoutes, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = Object.hasOwn(routes, name) ? routes[name] : undefined
  if (route === undefined) { sendJson(res, 404, { error: 'unknown admin endpoint' }); return }
  // Admin endpoints change state (gc) and show what this machine pulls: only from this machine.
  if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) { sendJson(res, 403, { error: 'admin endpoints answer loopback clients only' }); return }
  const method = req.method === 'HEAD' ? 'GET' : req.method
  if (method !== route.method) { sendJson(res, 405, { error: `use ${route.method}` }, { Allow: route.method }); return }
  sendJson(res, 200, await route.handle(req))
}
