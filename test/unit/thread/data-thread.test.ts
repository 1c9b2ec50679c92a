import assert from 'node:assert/strict'
import { test } from 'node:test'
import { silentLogger } from '../../../src/log.js'
import { createMetrics } from '../../../src/metrics/metrics.js'
import { Fetcher } from '../../../src/p2p/data/fetcher.js'
import { BlobStore } from '../../../src/store/blob-store.js'
import { DataThread } from '../../../src/thread/data-thread.js'
import { collect, pseudoRandom, sha256, tempDir } from '../support/fixtures.js'
import { freePort } from '../../helpers/ports.js'

async function storeBlob (store: BlobStore, seed: number): Promise<string | undefined> {
  const data = pseudoRandom(5 * 1024 * 1024 + 77, seed)
  const digest = sha256(data)
  const e = (await store.acquire(digest, { size: data.length }))!
  await e.write(0, data)
  await e.completion
  store.release(e)
  return (await store.stat(digest))?.state === 'complete' ? digest : undefined
}

test('the store\'s hashing and the data client share one worker thread, which ends when both are done', async (t) => {
  const { dir, cleanup } = await tempDir(); t.after(cleanup)
  const metrics = createMetrics({ defaultMetrics: false })
  const thread = new DataThread()
  const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics, thread })
  const fetcher = new Fetcher(metrics, { self: 'self', connectionsPerPeer: 1, timeoutMs: 2000, thread })
  assert.equal(thread.threadId, undefined, 'no thread before any work')

  // A transfer to a port nothing listens on fails as a connect error, from the thread.
  const port = await freePort() // nothing listens there
  await assert.rejects(collect(fetcher.fetch('peer', { host: '127.0.0.1', port }, sha256(Buffer.from('x')), 0, 10)), /data plane/)
  const id = thread.threadId
  assert.notEqual(id, undefined)

  // The store hashes in the same thread: a blob completes, verified.
  assert.ok(await storeBlob(store, 1) !== undefined)
  assert.equal(thread.threadId, id, 'one thread for both')

  // The data client is done; the thread stays for the store, and still verifies.
  await fetcher.close()
  assert.equal(thread.threadId, id)
  assert.ok(await storeBlob(store, 2) !== undefined)

  await store.close()
  assert.equal(thread.threadId, undefined, 'the thread ended with its last user')
})

test('a bad blob still fails verification in the shared thread', async (t) => {
  const { dir, cleanup } = await tempDir(); t.after(cleanup)
  const thread = new DataThread()
  const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }), thread })
  const data = pseudoRandom(3 * 1024 * 1024, 3)
  const wrong = sha256(pseudoRandom(3 * 1024 * 1024, 4))
  const e = (await store.acquire(wrong, { size: data.length }))!
  await e.write(0, data)
  await assert.rejects(e.completion)
  store.release(e)
  assert.notEqual((await store.stat(wrong))?.state, 'complete')
  await store.close()
  assert.equal(thread.threadId, undefined)
})

test('a role is opened once per thread', async () => {
  const thread = new DataThread()
  thread.open('hash', () => {})
  assert.throws(() => thread.open('hash', () => {}), /hash is open already/)
  await thread.release('hash')
  assert.equal(thread.threadId, undefined)
})
