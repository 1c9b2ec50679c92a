// The facade end to end on loopback: inventories between agents, static peers and restarts,
// identity, office secrets, and bans as both sides see them.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { PEER_KEY_FILE, createPeerNetwork } from '../../../src/p2p/index.js'
import { createMetrics } from '../../../src/metrics/metrics.js'
import { silentLogger } from '../../../src/log.js'
import { FakeLocal, collect, expectRefused, freePort, random, startNode, tempDir, useNodes, waitFor } from './fixtures.js'

const { node } = useNodes()

describe('p2p inventory', () => {
  it('exchanges inventories, updates and removals; a disconnected peer disappears', async () => {
    const a = await node()
    const b = await node({ peers: [a.addr] })
    const d1 = a.local.add(random(3000))
    const blob2 = random(10_000)
    const d2 = b.local.add(blob2, [[0, 4000], [6000, 8000]])

    await waitFor(() => b.net.router.holders(d1).length === 1 && a.net.router.holders(d2).length === 1, 5000, 'initial inventories')
    assert.deepEqual(b.net.router.holders(d1), [{ peerId: a.net.peerId, size: 3000, complete: true, ranges: [[0, 3000]], fetching: false, claimed: [] }])
    assert.deepEqual(a.net.router.holders(d2), [{ peerId: b.net.peerId, size: 10_000, complete: false, ranges: [[0, 4000], [6000, 8000]], fetching: true, claimed: [] }])

    // what a fetching holder claims from upstream travels with its entry
    b.local.setClaimed(d2, [[4000, 6000], [8000, 10_000]])
    await waitFor(() => a.net.router.holders(d2)[0]?.claimed.length === 2, 5000, 'claimed ranges')
    assert.deepEqual(a.net.router.holders(d2)[0].claimed, [[4000, 6000], [8000, 10_000]])

    const changed: string[] = []
    const unsubscribe = a.net.router.onChange(d => changed.push(d))
    // update: more ranges arrive (several quick changes are throttled; the last one must win)
    b.local.setRanges(d2, [[0, 5000], [6000, 8000]])
    b.local.setRanges(d2, [[0, 9000]])
    b.local.setRanges(d2, [[0, 10_000]])
    await waitFor(() => a.net.router.holders(d2)[0]?.complete === true, 5000, 'update')
    assert.deepEqual(a.net.router.holders(d2)[0].ranges, [[0, 10_000]])
    assert.ok(changed.includes(d2))

    // a new blob, then a removal
    const d3 = a.local.add(random(100))
    await waitFor(() => b.net.router.holders(d3).length === 1, 5000, 'new blob')
    a.local.remove(d1)
    await waitFor(() => b.net.router.holders(d1).length === 0, 5000, 'removal')
    unsubscribe()

    const infoB = a.net.peers().find(p => p.peerId === b.net.peerId)
    assert.ok(infoB !== undefined)
    assert.equal(infoB.blobs, 1)
    assert.equal(infoB.completeBlobs, 1)
    assert.equal(infoB.bytes, 10_000)
    assert.ok(infoB.addresses.length > 0)

    await b.net.stop()
    await waitFor(() => a.net.router.holders(d2).length === 0 && a.net.peers().length === 0, 5000, 'disconnect')
  })

  it('reconnects to a restarted static peer given without /p2p/, with a stable peer id', async () => {
    const port = await freePort()
    const dataDir = tempDir()
    const a1 = await startNode({ dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    const d = a1.local.add(random(500))
    const b = await node({ peers: [`/ip4/127.0.0.1/tcp/${port}`] })
    await waitFor(() => b.net.router.holders(d).length === 1, 5000, 'first connection')
    const id1 = a1.net.peerId
    await a1.net.stop()
    await waitFor(() => b.net.router.holders(d).length === 0, 5000, 'peer gone')

    const a2 = await node({ dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`], local: a1.local })
    assert.equal(a2.net.peerId, id1, 'same dataDir gives the same peer id')
    assert.equal(statSync(join(dataDir, PEER_KEY_FILE)).mode & 0o777, 0o600)
    await waitFor(() => b.net.router.holders(d).length === 1, 8000, 'reconnection after restart')
    assert.equal(b.net.router.holders(d)[0].peerId, id1)
  })

  it('kad-dht re-tags its closest peers once a minute, not every 5 s (idle CPU)', async () => {
    const a = await node()
    const tagger = (a.net.libp2p?.services as any)?.dht?.routingTable?.closestPeerTagger
    assert.ok(tagger !== undefined, 'kad-dht has a closest-peer tagger (its internals changed if not: see slowClosestPeerTagger)')
    assert.equal(tagger.refreshInterval, 60_000)
  })

  it('a fresh dataDir gives a different identity; createPeerNetwork knows its id before start', () => {
    const mk = (dataDir: string) => createPeerNetwork({ dataDir, local: new FakeLocal(), metrics: createMetrics({ defaultMetrics: false }), logger: silentLogger(), mdns: false })
    const dir = tempDir()
    const x = mk(dir)
    const y = mk(dir)
    const z = mk(tempDir())
    assert.match(x.peerId, /^12D3KooW/)
    assert.equal(x.peerId, y.peerId)
    assert.notEqual(x.peerId, z.peerId)
  })
})

describe('p2p office secret and bans', () => {
  it('different office secrets never connect; the same secret does', async () => {
    const secret = Buffer.from('office-one')
    const a = await node({ secret })
    const d = a.local.add(random(100))
    const other = await node({ secret: Buffer.from('office-two'), peers: [a.addr] })
    const none = await node({ peers: [a.addr] })
    const same = await node({ secret: Buffer.from('office-one'), peers: [a.addr] })
    await waitFor(() => same.net.router.holders(d).length === 1, 5000, 'same-secret peer')
    await new Promise(resolve => setTimeout(resolve, 1500)) // several re-dial attempts
    assert.deepEqual(other.net.peers(), [])
    assert.deepEqual(none.net.peers(), [])
    assert.deepEqual(other.net.router.holders(d), [])
    assert.deepEqual(a.net.peers().map(p => p.peerId), [same.net.peerId])
    assert.equal(a.net.libp2p!.getConnections().length, 1)
  })

  it('a banned peer is left out of holders() and its requests are refused', async () => {
    const a = await node()
    const b = await node({ peers: [a.addr] })
    const da = a.local.add(random(1000))
    const db = b.local.add(random(1000))
    await waitFor(() => b.net.router.holders(da).length === 1 && a.net.router.holders(db).length === 1, 5000, 'inventory')
    const changed: string[] = []
    b.net.router.onChange(x => changed.push(x))
    b.net.health.ban(a.net.peerId, 600, 'sent bad bytes')
    assert.deepEqual(b.net.router.holders(da), [])
    assert.ok(changed.includes(da))
    assert.equal(b.net.peers().find(p => p.peerId === a.net.peerId)?.bannedUntil !== undefined, true)
    // A asks B: refused
    await expectRefused(collect(a.net.transfers.fetchRange(b.net.peerId, db, 0, 10)), 'BANNED')
    // B does not fetch from a banned peer either
    await assert.rejects(collect(b.net.transfers.fetchRange(a.net.peerId, da, 0, 10)))
    // the ban expires
    await waitFor(() => b.net.router.holders(da).length === 1, 3000, 'ban expiry')
    assert.equal((await collect(a.net.transfers.fetchRange(b.net.peerId, db, 0, 10))).byteLength, 10)
  })
})

