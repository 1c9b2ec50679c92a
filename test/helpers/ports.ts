// Free loopback TCP ports for processes that need a fixed port (docker-registry, the agent).

import { createServer } from 'node:net'

const handedOut = new Set<number>()

/**
 * A TCP port that is free on `host` right now (bind to port 0, read it, close). Ports already
 * returned by this process are never returned twice, so two helpers started back to back do not
 * collide; another process may still grab it in between (the usual small race).
 */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer()
      srv.unref()
      srv.once('error', reject)
      srv.listen({ host, port: 0, exclusive: true }, () => {
        const addr = srv.address()
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0
        srv.close(() => resolve(p))
      })
    })
    if (port !== 0 && !handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port on ${host}`)
}
