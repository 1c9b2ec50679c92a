// The status page (GET /) in a real browser (headless Debian chromium) and `layerd status`,
// against two real agents: B has A as its static peer and takes blobs from it. The rendered page
// shows A's peer id and the blobs B holds, updates itself while open, and shows the next
// transfer after it happened; the CLI summary and --json say the same.

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { makeTempDir, run, stopAll, waitFor, type RunResult } from '../helpers/proc.js'
import { startRegistry, type Registry } from '../helpers/registry.js'
import { buildImage, pushImage, type BuiltImage } from '../helpers/images.js'
import { startAgent, AGENT_BIN, REPO_ROOT, type Agent } from '../helpers/agent.js'
import { rawRequest } from '../helpers/agent-http.js'
import { HAVE_CHROMIUM, dumpDom, screenshot } from '../helpers/chromium.js'

after(stopAll)

const MiB = 1 << 20

async function layerd (args: string[]): Promise<RunResult> {
  return await run(process.execPath, [AGENT_BIN, ...args], { timeoutMs: 120_000, cwd: REPO_ROOT })
}

/** The inner HTML of `<tbody id="ID">` in a dumped DOM. */
function tbody (dom: string, id: string): string {
  const m = new RegExp(`<tbody id="${id}">([\\s\\S]*?)</tbody>`).exec(dom)
  assert.ok(m !== null, `tbody#${id} in the page`)
  return m[1] as string
}

const textOf = (dom: string, id: string): string => (new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(dom)?.[1] ?? '')

describe('status page and layerd status', { skip: !HAVE_CHROMIUM && 'chromium is not installed' }, () => {
  let reg: Registry
  let img: BuiltImage
  let a: Agent
  let b: Agent
  let aId: string
  const work = makeTempDir('it-page')

  before(async () => {
    reg = await startRegistry()
    img = await buildImage({ name: 'page/app', tag: 'v1', layers: [4 * MiB, 1 * MiB], seed: 'it-page' })
    await pushImage(img, reg.host, 'page/app', 'v1')
    a = await startAgent({ upstreams: { 'upstream.test': reg.url } })
    aId = String((await a.waitForLog(l => l.msg === 'layerd ready')).peerId)
    const addr = ((await a.waitForLog(l => l.msg === 'p2p started')).addresses as string[])[0] as string
    b = await startAgent({ upstreams: { 'upstream.test': reg.url }, extraArgs: ['--peer', addr] })
    const pulled = await layerd(['pull', '--listen', a.host, 'upstream.test/page/app:v1'])
    assert.equal(pulled.code, 0, pulled.stderr)
    // B sees A and what it holds.
    await waitFor(async () => {
      const st = JSON.parse((await rawRequest(b.url, '/_layerd/status')).body.toString())
      return st.peers.some((p: any) => p.peerId === aId && p.completeBlobs >= 3)
    }, { timeoutMs: 30_000, what: 'B to see A holding the image' })
  })

  test('the page shows the peer and the stored blobs, updates itself, and shows the next transfer', async () => {
    const [big, small] = img.layers as [typeof img.layers[0], typeof img.layers[0]]
    const first = await rawRequest(b.url, `/v2/page/app/blobs/${small.digest}`)
    assert.equal(`sha256:${first.sha256}`, small.digest)

    const page = await rawRequest(b.url, '/')
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    const html = page.body.toString()
    // Tags only: the inline script is minified code (in the bundle), where `let SRC=` is a name.
    const markup = html.replace(/<script>[\s\S]*?<\/script>|<style>[\s\S]*?<\/style>/g, '')
    assert.ok(!/<link|\ssrc=|\shref=/i.test(markup), 'self-contained: no external assets')
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/)
    assert.equal((await rawRequest(b.url, '/v2/')).status, 200, 'the registry API is unchanged')

    const dom1 = await dumpDom(`${b.url}/`, { virtualTimeMs: 3500 })
    assert.ok(tbody(dom1, 'peers').includes(`data-peer="${aId}"`), 'the peer is listed')
    assert.match(tbody(dom1, 'peers'), />static</, 'found by the static list')
    assert.ok(tbody(dom1, 'blobs').includes(`data-digest="${small.digest}"`), 'the stored blob is listed')
    assert.ok(!dom1.includes(`data-digest="${big.digest}"`), 'not yet fetched')
    const updates = Number(/data-updates="(\d+)"/.exec(dom1)?.[1] ?? 0)
    assert.ok(updates >= 2, `the page polled and re-rendered (${updates} updates)`)
    const served1 = textOf(dom1, 'served')
    assert.match(served1, /^1(\.\d+)? MiB$/, `served so far: ${served1}`)

    const second = await rawRequest(b.url, `/v2/page/app/blobs/${big.digest}`)
    assert.equal(`sha256:${second.sha256}`, big.digest)
    const dom2 = await dumpDom(`${b.url}/`, { virtualTimeMs: 1500 })
    assert.ok(tbody(dom2, 'blobs').includes(`data-digest="${big.digest}"`), 'the new blob is listed')
    const served2 = textOf(dom2, 'served')
    assert.match(served2, /^5(\.\d+)? MiB$/, `served after the second blob: ${served2}`)
    assert.match(dom2, /<li><i class="peer"><\/i>peer <b>5(\.\d+)? MiB<\/b>/, 'and it came from the peer')

    const shot = join(work, 'status-page.png')
    await screenshot(`${b.url}/`, shot, { virtualTimeMs: 2500, width: 1200, height: 800 })
    assert.deepEqual([...readFileSync(shot).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG')
    assert.ok(statSync(shot).size > 20_000, 'with content')
    if (process.env.LAYERD_STATUS_SCREENSHOT !== undefined) copyFileSync(shot, process.env.LAYERD_STATUS_SCREENSHOT)
  })

  test('layerd status: a summary in units, and --json with peers, store, transfers and bytes by source', async () => {
    const r = await layerd(['status', '--listen', b.host])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^store +\d+(\.\d+)? MiB of 50 GiB used/m)
    assert.match(r.stdout, /^served +\d+(\.\d+)? MiB to clients: local .*, peers \d+(\.\d+)? MiB, upstream 0 B$/m)
    assert.ok(r.stdout.includes(aId), r.stdout)
    assert.ok(!r.stdout.includes('\u001b'), 'no escape codes when not a terminal')

    const j = await layerd(['status', '--json', '--listen', b.host])
    assert.equal(j.code, 0, j.stderr)
    const st = JSON.parse(j.stdout)
    const peer = st.peers.find((p: any) => p.peerId === aId)
    assert.ok(peer !== undefined, j.stdout)
    assert.equal(peer.foundBy, 'static')
    assert.ok(peer.addresses.length > 0 && peer.completeBlobs >= 3 && peer.bytes >= 5 * MiB)
    assert.equal(st.store.maxBytes, 50 * 1024 ** 3)
    assert.equal(st.store.blobs.complete, 2)
    assert.equal(st.store.blobs.partial, 0)
    assert.ok(st.store.usedBytes >= 5 * MiB)
    assert.deepEqual(st.transfers, [])
    assert.equal(st.bytes.upstream, 0)
    assert.ok(st.bytes.peer >= 5 * MiB, `bytes served that came from the peer: ${JSON.stringify(st.bytes)}`)
    assert.ok(st.fetched.peer >= 5 * MiB)

    const none = await layerd(['status', '--listen', '127.0.0.1:9'])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /^layerd: no agent answering on 127\.0\.0\.1:9/)
  })
})
