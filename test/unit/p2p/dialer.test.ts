// The dialer between two real nodes on loopback: a static peer without /p2p/ is dialled and
// re-dialled after a hang-up; a discovered peer is dialled once however often it is reported,
// again while dials fail, and by one side of a pair that discover each other at once.

import { afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { silentLogger } from '../../../src/log.js'
import { Dialer } from '../../../src/p2p/dialer.js'
import { ConfigError } from '../../../src/errors.js'
import { waitFor, within } from './fixtures.js'
import { meshNode, type MeshNode } from './mesh.js'

const running: Array<{ stop: () => Promise<void> }> = []
afterEach(async () => { await Promise.allSettled(running.splice(0).reverse().map(async n => await within(n.stop(), 10_000, 'stop'))) })

async function mesh (): Promise<MeshNode> {
  const n = await meshNode()
  running.push(n)
  return n
}

/** `failFirst`: that many dials fail before reaching libp2p (a peer swamped by handshakes). */
async function dialer (on: MeshNode, peers: string[] = [], opts: { failFirst?: number, yieldMs?: number } = {}): Promise<{ dialer: Dialer, dials: () => number }> {
  let count = 0
  const dial = on.node.dial.bind(on.node)
  on.node.dial = async (...args) => {
    count++
    if (count <= (opts.failFirst ?? 0)) throw new Error('connection refused (test)')
    return await dial(...args)
  }
  const d = new Dialer({ libp2p: on.node, connections: on.connections, logger: silentLogger() }, { peers, redialMinMs: 50, redialMaxMs: 200, dialTimeoutMs: 2000, yieldMs: opts.yieldMs ?? 200 })
  await d.start()
  d.afterStart()
  running.push(d)
  return { dialer: d, dials: () => count }
}

describe('Dialer', () => {
  it('dials a static peer given without /p2p/ and dials it again after a hang-up', async () => {
    const a = await mesh()
    const b = await mesh()
    const addr = a.node.getMultiaddrs()[0].toString().replace(/\/p2p\/.*$/, '')
    const { dials } = await dialer(b, [addr])
    await waitFor(() => b.connections.isConnected(a.peerId), 5000, 'the first dial')
    const first = dials()
    await a.node.hangUp(b.node.peerId)
    await waitFor(() => dials() > first && b.connections.isConnected(a.peerId), 5000, 'the re-dial')
  })

  it('a peer reported again and again is dialled once; ourselves never', async () => {
    const a = await mesh()
    const b = await mesh()
    await b.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() })
    const { dials } = await dialer(b)
    const report = (m: MeshNode): void => { b.node.dispatchEvent(new CustomEvent('peer:discovery', { detail: { id: m.node.peerId, multiaddrs: m.node.getMultiaddrs() } })) }
    report(a); report(a); report(a); report(b)
    await waitFor(() => b.connections.isConnected(a.peerId), 5000, 'connected')
    assert.equal(dials(), 1)
    report(a)
    await new Promise(resolve => setTimeout(resolve, 400))
    assert.equal(dials(), 1, 'a connected peer is not dialled again')
  })

  it('a peer mDNS reported whose dials fail is dialled again until connected', async () => {
    const a = await mesh()
    const b = await mesh()
    await b.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() })
    const { dialer: d, dials } = await dialer(b, [], { failFirst: 2 })
    d.mdnsPeers.add(a.peerId)
    b.node.dispatchEvent(new CustomEvent('peer:discovery', { detail: { id: a.node.peerId, multiaddrs: a.node.getMultiaddrs() } }))
    await waitFor(() => b.connections.isConnected(a.peerId), 5000, 'connected after two failed dials')
    assert.equal(dials(), 3)
  })

  it('a peer the DHT named, or one whose handshake failed, is not dialled again', async () => {
    const a = await mesh()
    const b = await mesh()
    const c = await mesh()
    for (const m of [a, c]) await b.node.peerStore.merge(m.node.peerId, { multiaddrs: m.node.getMultiaddrs() })
    const { dialer: d, dials } = await dialer(b, [], { failFirst: 2 })
    // a: not reported by mDNS (the DHT names departed peers for long).
    b.node.dispatchEvent(new CustomEvent('peer:discovery', { detail: { id: a.node.peerId, multiaddrs: a.node.getMultiaddrs() } }))
    await new Promise(resolve => setTimeout(resolve, 700))
    assert.equal(dials(), 1)
    assert.equal(b.connections.isConnected(a.peerId), false)
    // c: on the segment, but its handshake fails (another office secret).
    d.mdnsPeers.add(c.peerId)
    let cDials = 0
    b.node.dial = async () => { cDials++; throw new Error('handshake stage 1 validation fail: Invalid chacha20poly1305 decryption') }
    b.node.dispatchEvent(new CustomEvent('peer:discovery', { detail: { id: c.node.peerId, multiaddrs: c.node.getMultiaddrs() } }))
    await new Promise(resolve => setTimeout(resolve, 700))
    assert.equal(cDials, 1)
  })

  it('two peers that discover each other at once open one connection, dialled by one side', async () => {
    const a = await mesh()
    const b = await mesh()
    await a.node.peerStore.merge(b.node.peerId, { multiaddrs: b.node.getMultiaddrs() })
    await b.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() })
    const da = await dialer(a, [], { yieldMs: 1000 })
    const db = await dialer(b, [], { yieldMs: 1000 })
    a.node.dispatchEvent(new CustomEvent('peer:discovery', { detail: { id: b.node.peerId, multiaddrs: b.node.getMultiaddrs() } }))
    b.node.dispatchEvent(new CustomEvent('peer:discovery', { detail: { id: a.node.peerId, multiaddrs: a.node.getMultiaddrs() } }))
    await waitFor(() => a.connections.isConnected(b.peerId) && b.connections.isConnected(a.peerId), 5000, 'connected')
    // Past the longest yield (1.5 s): the other side saw the connection and did not dial.
    await new Promise(resolve => setTimeout(resolve, 1700))
    assert.equal(da.dials() + db.dials(), 1)
    assert.equal(a.node.getConnections(b.node.peerId).length, 1)
    const smaller = a.peerId < b.peerId ? da : db
    assert.equal(smaller.dials(), 1, 'the peer whose id sorts first dials')
  })

  it('a static peer that is not a multiaddr is a ConfigError', () => {
    assert.throws(() => new Dialer({ libp2p: undefined as never, connections: { connectionTo: () => undefined, noteFoundBy: () => {} }, logger: silentLogger() }, { peers: ['10.0.0.1:4050'] }), ConfigError)
  })
})
