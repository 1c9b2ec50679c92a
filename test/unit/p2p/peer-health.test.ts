import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PeerHealth, type HealthEvent } from '../../../src/p2p/peer-health.js'
import { waitFor } from './fixtures.js'

const D1 = 'sha256:' + '1'.repeat(64)
const D2 = 'sha256:' + '2'.repeat(64)

/** A PeerHealth on a clock the test moves. */
function clocked (): { health: PeerHealth, advance: (ms: number) => void } {
  let now = 1_000_000
  return { health: new PeerHealth({ now: () => now }), advance: ms => { now += ms } }
}

describe('PeerHealth', () => {
  it('bans only get longer; each ban is an event, expiry one more', async () => {
    const health = new PeerHealth()
    const events: HealthEvent[] = []
    health.onChange(ev => events.push(ev))
    try {
      health.ban('a', 150, 'bad bytes')
      const until = health.bannedUntil('a')!
      health.ban('a', 20, 'again, shorter')
      assert.equal(health.bannedUntil('a'), until, 'a shorter ban does not shorten the first')
      assert.equal(health.isBanned('a'), true)
      assert.equal(health.isBanned('b'), false)
      assert.equal(health.bannedUntil('b'), undefined)
      assert.deepEqual(events, [{ type: 'banned', peerId: 'a' }, { type: 'banned', peerId: 'a' }])
      await new Promise(resolve => setTimeout(resolve, 60))
      assert.equal(events.length, 2, 'the shorter ban does not end early')
      await waitFor(() => events.length >= 3, 2000, 'ban expiry')
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.deepEqual(events.slice(2), [{ type: 'unbanned', peerId: 'a' }], 'one expiry event per ban period')
      assert.equal(health.isBanned('a'), false)
      assert.equal(health.bannedUntil('a'), undefined)
    } finally { health.stop() }
  })

  it('a longer ban moves the expiry', async () => {
    const health = new PeerHealth()
    const events: string[] = []
    health.onChange(ev => events.push(ev.type))
    try {
      const t0 = Date.now()
      health.ban('a', 30, 'first')
      health.ban('a', 200, 'worse')
      await waitFor(() => events.length >= 3, 2000, 'ban expiry')
      assert.ok(Date.now() - t0 >= 200, 'not before the longer ban ends')
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.deepEqual(events, ['banned', 'banned', 'unbanned'])
    } finally { health.stop() }
  })

  it('a listener that throws does not keep others from hearing; stop() silences expiry', async () => {
    const health = new PeerHealth()
    const heard: string[] = []
    health.onChange(() => { throw new Error('boom') })
    const off = health.onChange(ev => heard.push(ev.type))
    health.ban('a', 30, 'x')
    assert.deepEqual(heard, ['banned'])
    off()
    health.ban('a', 30, 'y')
    assert.deepEqual(heard, ['banned'], 'unsubscribed')
    const later: string[] = []
    health.onChange(ev => later.push(ev.type))
    health.stop()
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.deepEqual(later, [])
  })

  it('busy lasts its time and says nothing about other peers', () => {
    const { health, advance } = clocked()
    health.busy('a', 250)
    assert.equal(health.isBusy('a'), true)
    assert.equal(health.isBusy('b'), false)
    advance(249)
    assert.equal(health.isBusy('a'), true)
    assert.equal(health.busyFor('a'), 1, 'a session plans again when it ends')
    advance(1)
    assert.equal(health.isBusy('a'), false)
    assert.equal(health.busyFor('a'), 0)
    assert.equal(health.busyFor('b'), 0)
  })

  it('failed is per peer and digest, expires, and forget() drops it', () => {
    const { health, advance } = clocked()
    health.failed('a', D1, 5000)
    assert.equal(health.hasFailed('a', D1), true)
    assert.equal(health.hasFailed('a', D2), false)
    assert.equal(health.hasFailed('b', D1), false)
    advance(5000)
    assert.equal(health.hasFailed('a', D1), false)
    health.failed('a', D1, 5000)
    health.failed('a', D2, 5000)
    health.forget(D1)
    assert.equal(health.hasFailed('a', D1), false)
    assert.equal(health.hasFailed('a', D2), true)
  })

  it('progressing: a first sighting and growth count; the same bytes for longer than stallMs do not', () => {
    const { health, advance } = clocked()
    assert.equal(health.progressing('a', D1, 100, 1000), true)
    advance(1000)
    assert.equal(health.progressing('a', D1, 100, 1000), true, 'at the limit still progressing')
    advance(1)
    assert.equal(health.progressing('a', D1, 100, 1000), false, 'stalled')
    assert.equal(health.progressing('b', D1, 100, 1000), true, 'per peer')
    assert.equal(health.progressing('a', D1, 200, 1000), true, 'grew')
    advance(5000)
    assert.equal(health.progressing('a', D1, 200, 1000), false)
    health.forget(D1)
    assert.equal(health.progressing('a', D1, 200, 1000), true, 'forgotten: a first sighting again')
  })
})
