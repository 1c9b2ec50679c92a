import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { ownerOf } from '../../../src/session/ownership.js'

const D = 'sha256:' + 'b'.repeat(64)
const members = ['peerA', 'peerB', 'peerC'].map(id => ({ id }))

test('every agent computes the same owner whatever the member order', () => {
  const reversed = [...members].reverse()
  for (let i = 0; i < 200; i++) assert.equal(ownerOf(members, D, i), ownerOf(reversed, D, i))
})

test('pieces are spread over the members', () => {
  const counts = new Map<string, number>()
  for (let i = 0; i < 300; i++) { const o = ownerOf(members, D, i); counts.set(o, (counts.get(o) ?? 0) + 1) }
  for (const m of members) assert.ok((counts.get(m.id) ?? 0) > 60, `${m.id} owns ${counts.get(m.id)} of 300`)
})

test('when a member leaves, only its pieces move', () => {
  const without = members.filter(m => m.id !== 'peerB')
  for (let i = 0; i < 300; i++) {
    const before = ownerOf(members, D, i)
    if (before !== 'peerB') assert.equal(ownerOf(without, D, i), before)
  }
})

test('a single member owns everything', () => {
  for (let i = 0; i < 20; i++) assert.equal(ownerOf([{ id: 'solo' }], D, i), 'solo')
})

test('the owner is the highest sha256(member, digest, piece), also after the score cache dropped a digest', () => {
  // The rule is part of the peer protocol: an agent of another version must pick the same owner.
  const reference = (digest: string, piece: number): string => {
    const scored = members.map(m => ({ id: m.id, s: createHash('sha256').update(`${m.id}\0${digest}\0${piece}`).digest('hex') }))
    scored.sort((a, b) => a.s < b.s ? 1 : a.s > b.s ? -1 : a.id < b.id ? -1 : 1)
    return scored[0]!.id
  }
  // More digests than the cache keeps (256), then the first ones again.
  const digests = Array.from({ length: 300 }, (_, i) => 'sha256:' + i.toString(16).padStart(64, '0'))
  for (const d of [...digests, ...digests.slice(0, 20)]) {
    for (let i = 0; i < 4; i++) assert.equal(ownerOf(members, d, i), reference(d, i), `${d} piece ${i}`)
  }
})
