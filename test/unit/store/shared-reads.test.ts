import assert from 'node:assert/strict'
import { open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { SHARED_CHUNK, SharedReads } from '../../../src/store/shared-reads.js'
import { ChunkPool } from '../../../src/util/chunk-pool.js'
import { letGo } from '../../../src/util/lent.js'
import { pseudoRandom, tempDir } from '../support/fixtures.js'

async function fixture (t: { after: (fn: () => Promise<void>) => void }, size: number): Promise<{ data: Buffer, reads: SharedReads, pool: ChunkPool }> {
  const { dir, cleanup } = await tempDir(); t.after(cleanup)
  const data = pseudoRandom(size, 7)
  const path = join(dir, 'blob')
  await writeFile(path, data)
  const fh = await open(path, 'r')
  t.after(async () => { await fh.close() })
  const pool = new ChunkPool(64, 60_000)
  return { data, reads: new SharedReads(async () => fh, size, 'test blob', pool), pool }
}

test('chunks are recycled once let go and out of the cache; every reader gets the right bytes', async (t) => {
  const size = 20 * SHARED_CHUNK + 12_345
  const { data, reads, pool } = await fixture(t, size)
  // Three readers at once over different ranges, each letting go as it goes.
  const readOne = async (start: number, end: number): Promise<Buffer> => {
    const parts: Buffer[] = []
    for await (const b of reads.read(start, end)) { parts.push(Buffer.from(b)); letGo(b) }
    return Buffer.concat(parts)
  }
  const ranges: Array<[number, number]> = [[0, size], [SHARED_CHUNK / 2, 15 * SHARED_CHUNK + 3], [size - 5, size]]
  const got = await Promise.all(ranges.map(async ([s, e]) => await readOne(s, e)))
  for (const [i, [s, e]] of ranges.entries()) assert.ok(got[i]!.equals(data.subarray(s, e)), `range ${s}-${e}`)
  // Chunks let go and leaving the cache went back to the pool and were taken again: the three
  // readers (37 chunk reads) and two more whole passes (42) allocated only about what the cache
  // and the read-ahead hold at once.
  assert.ok((await readOne(0, size)).equals(data))
  assert.ok((await readOne(0, size)).equals(data))
  assert.ok(pool.allocated <= 16, `${pool.allocated} buffers allocated for 79 chunk reads`)
})

test('a chunk that is not let go is never reused: its bytes stay intact', async (t) => {
  const size = 30 * SHARED_CHUNK
  const { data, reads } = await fixture(t, size)
  // Keep every view of the first pass (as a socket write still in flight would) ...
  const held: Buffer[] = []
  for await (const b of reads.read(0, size)) held.push(b)
  // ... while other readers churn through the blob twice, letting go of theirs.
  for (let pass = 0; pass < 2; pass++) {
    for await (const b of reads.read(0, size)) letGo(b)
  }
  // A reader that never lets go at all.
  const views: Buffer[] = []
  for await (const b of reads.read(0, size)) views.push(b)
  for await (const b of reads.read(0, size)) letGo(b)
  assert.ok(Buffer.concat(held).equals(data), 'held leases kept their bytes')
  assert.ok(Buffer.concat(views).equals(data), 'unreleased views kept their bytes')
  for (const b of held) letGo(b)
})

test('ChunkPool is bounded and empties itself when unused', async () => {
  const pool = new ChunkPool(2, 50)
  const bufs = [pool.take(), pool.take(), pool.take()]
  for (const b of bufs) pool.put(b)
  assert.equal(pool.size, 2)
  await new Promise(resolve => setTimeout(resolve, 120))
  assert.equal(pool.size, 0)
})
