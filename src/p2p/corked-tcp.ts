// @libp2p/tcp with one socket write per send. Its connection writes every buffer of a send with
// its own socket.write, and noise hands it each message as two buffers (a 2-byte length, then the
// ciphertext): with noDelay that is two syscalls and two TCP segments per message, on every
// inventory update and control frame. Corking the socket for the length of a send makes Node
// write them with one writev. Bench fig 12 (eight of twenty agents pulling at once): each puller's
// libp2p segments went from ~8000 to ~3600, a bystander's from ~3500 to ~1750.

import type { Socket } from 'node:net'
import type { Transport, Upgrader, MultiaddrConnection } from '@libp2p/interface'
import { tcp, type TCPComponents, type TCPOptions } from '@libp2p/tcp'

interface Sending { socket?: Socket, sendData?: (data: unknown) => unknown }

/**
 * Cork the socket of a TCP multiaddr connection around each send (in place; returns it). A
 * connection without a socket or a sendData (another transport's) is left as it is.
 */
export function corkSends<C extends object> (maConn: C): C {
  const c = maConn as Sending
  const socket = c.socket
  const send = c.sendData
  if (socket === undefined || typeof socket.cork !== 'function' || typeof send !== 'function') return maConn
  c.sendData = function (this: unknown, data: unknown) {
    socket.cork()
    try { return send.call(this, data) } finally { socket.uncork() }
  }
  return maConn
}

/** The upgrader as it is, but every connection it upgrades sends corked. */
function corkingUpgrader (u: Upgrader): Upgrader {
  return new Proxy(u, {
    get (target, prop) {
      if (prop === 'upgradeOutbound' || prop === 'upgradeInbound') {
        return async (maConn: MultiaddrConnection, opts: any) => await (target[prop] as any).call(target, corkSends(maConn), opts)
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}

/** `tcp(init)` whose connections write each send with one syscall. */
export function corkedTcp (init?: TCPOptions): (components: TCPComponents) => Transport {
  const factory = tcp(init)
  return (components) => {
    const t = factory(components)
    const dial = t.dial.bind(t)
    const createListener = t.createListener.bind(t)
    t.dial = async (ma, options) => await dial(ma, { ...options, upgrader: corkingUpgrader(options.upgrader) })
    t.createListener = (options) => createListener({ ...options, upgrader: corkingUpgrader(options.upgrader) })
    return t
  }
}
