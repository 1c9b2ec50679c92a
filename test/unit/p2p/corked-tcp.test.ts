// corkedTcp: a libp2p send leaves in one socket write (noise gives each message as a length and a
// ciphertext, which plain @libp2p/tcp writes one by one), and the bytes are the same.

import '../../../src/polyfill.js'
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { corkedTcp } from '../../../src/p2p/corked-tcp.js'

const ECHO = '/test/echo/1.0.0'
const started: Libp2p[] = []
after(async () => { await Promise.all(started.map(async n => { await n.stop() })) })

async function node (corked: boolean): Promise<Libp2p> {
  const n = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [corked ? corkedTcp() : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  await n.handle(ECHO, stream => { stream.addEventListener('message', (e: any) => { stream.send(e.data.subarray()) }) })
  started.push(n)
  return n
}

/** Socket writes (each _write or _writev call is one syscall) while `n` messages go to and fro. */
async function writesFor (corked: boolean, n: number): Promise<{ writes: number, echoed: string }> {
  const a = await node(corked)
  const b = await node(corked)
  const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, ECHO)
  const got: string[] = []
  let wake: (() => void) | undefined
  stream.addEventListener('message', (e: any) => { got.push(Buffer.from(e.data.subarray()).toString()); wake?.() })
  const proto = Socket.prototype as any
  const write = proto._write
  const writev = proto._writev
  let writes = 0
  proto._write = function (...args: unknown[]) { writes++; return write.apply(this, args) }
  proto._writev = function (...args: unknown[]) { writes++; return writev.apply(this, args) }
  try {
    for (let i = 0; i < n; i++) {
      const want = got.length + 1
      stream.send(Buffer.from(`message ${i};`))
      const deadline = Date.now() + 5000
      while (got.join('').split(';').length - 1 < want && Date.now() < deadline) await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 100) })
    }
  } finally {
    proto._write = write
    proto._writev = writev
  }
  return { writes, echoed: got.join('') }
}

describe('corkedTcp', () => {
  it('sends each libp2p message with one socket write, and the bytes arrive intact', async (t) => {
    const n = 40
    const want = Array.from({ length: n }, (_, i) => `message ${i};`).join('')
    const plain = await writesFor(false, n)
    const corked = await writesFor(true, n)
    t.diagnostic(`socket writes for ${n} messages and their echoes: plain ${plain.writes}, corked ${corked.writes}`)
    assert.equal(plain.echoed, want)
    assert.equal(corked.echoed, want)
    // Plain: a length and a ciphertext per noise message, both ways. Corked: one write each.
    assert.ok(corked.writes <= plain.writes * 0.6, `socket writes: corked ${corked.writes}, plain ${plain.writes}`)
    assert.ok(corked.writes >= 2 * n, `every message and its echo written: ${corked.writes}`)
  })
})
