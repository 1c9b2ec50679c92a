import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { legacyView } from '../../../src/p2p/legacy.js'
import { PeerHealth } from '../../../src/p2p/peer-health.js'
import type { PeerNetwork } from '../../../src/p2p/types.js'
import { MemoryOffice, MemoryRouter } from '../../../src/routing/memory.js'

describe('legacyView', () => {
  it('maps the old facade onto router, transfers and health', async () => {
    const office = new MemoryOffice()
    const health = new PeerHealth()
    const calls: string[] = []
    const net: PeerNetwork = {
      peerId: 'self',
      router: new MemoryRouter('self', office),
      health,
      transfers: {
        async * fetchRange (peerId, digest, start, end) { calls.push(`range ${peerId} ${digest} ${start}-${end}`); yield new Uint8Array(end - start) },
        async fetchPieceHashes (peerId, digest) { calls.push(`pieces ${peerId} ${digest}`); return [] }
      },
      peers: () => [{ peerId: 'p', addresses: [], blobs: 0, completeBlobs: 0, bytes: 0 }],
      multiaddrs: () => [],
      start: async () => { calls.push('start') },
      stop: async () => { calls.push('stop') }
    }
    const old = legacyView(net)
    const d = 'sha256:' + 'a'.repeat(64)
    const changed: string[] = []
    const off = old.onHoldersChange(x => changed.push(x))
    office.set('p', { digest: d, size: 5, complete: true, ranges: [[0, 5]], fetching: false })
    assert.deepEqual(changed, [d])
    assert.deepEqual(old.holders(d).map(h => h.peerId), ['p'])
    off()
    for await (const chunk of old.fetchRange('p', d, 1, 4)) assert.equal(chunk.byteLength, 3)
    assert.deepEqual(await old.fetchPieceHashes('p', d), [])
    old.ban('p', 1000, 'test')
    assert.equal(health.isBanned('p'), true)
    assert.equal(old.peerId, 'self')
    assert.equal(old.peers()[0].peerId, 'p')
    await old.start(); await old.stop()
    assert.deepEqual(calls, [`range p ${d} 1-4`, `pieces p ${d}`, 'start', 'stop'])
    health.stop()
  })
})
