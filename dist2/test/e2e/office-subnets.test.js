// Issue 8, end to end: an office of two subnets (h1–h3 on 10.77.0.0/24 with the upstream,
// h4–h6 on 10.77.1.0/24) joined by a router namespace that forwards unicast and not multicast,
// so mDNS finds only the agents of one's own subnet. Every agent is given only h1 as `--peer`
// (the DHT's bootstrap); content routing across the router is the DHT's. Upstream traffic is
// counted by the test's proxy, outside the agents.
//
// 1. h2 pulls, then h5, then h6: upstream carries the image once (≤ 1.02x), h5 finds h2's blobs
//    through the DHT, every digest verifies.
// 2. A provider killed without a goodbye (kill -9, its link down) delays the next pull by ≤ 2 s.
// 3. Offline: after h1 pulled an image the upstream goes away; h2, which never pulled it, pulls
//    it by tag (the response says the tag came from the office), h3 by digest, h4 (the other
//    subnet) by tag; every digest verifies.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll, waitFor } from '../helpers/proc.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startOffice, dumpOffice, imageBytes, assertPulled, ratio, AGENT_PORT } from '../helpers/office.js';
after(stopAll);
const MiB = 1 << 20;
describe('issue 8: an office of two subnets, content routing on the DHT, offline pulls', { timeout: 420_000 }, () => {
    let office;
    let hs = [];
    const imgs = {};
    const h = (i) => hs[i - 1];
    before(async () => {
        office = await startOffice({ hosts: 6, subnets: [3, 3], rate: '200mbit' });
        const specs = [
            ['routed', [8 * MiB, 6 * MiB, 2 * MiB, 300_000]],
            ['dead', [6 * MiB, 3 * MiB, 1 * MiB]],
            ['control', [6 * MiB, 3 * MiB, 1 * MiB]],
            ['offline', [5 * MiB, 2 * MiB, 200_000]],
        ];
        for (const [k, layers] of specs) {
            const img = await buildImage({ name: `e2e/office-${k}`, tag: 'v1', layers, seed: `e2e-office-subnets-${k}` });
            await pushImage(img, office.registry.host, `e2e/office-${k}`, 'v1');
            imgs[k] = img;
        }
        const first = await office.startAgent(1);
        const rest = await Promise.all([2, 3, 4, 5, 6].map(async (i) => await office.startAgent(i, { extraArgs: ['--peer', first.multiaddr] })));
        hs = [first, ...rest];
        // Everyone is connected to h1 (static) and to the agents of its own subnet (mDNS); nobody
        // is told of the other subnet's agents.
        await waitFor(async () => {
            for (const a of hs) {
                const ids = new Set((await a.peers()).peers.map(p => p.peerId));
                const sameSubnet = hs.filter(b => b !== a && b.host.subnet === a.host.subnet);
                if (a !== first && !ids.has(first.peerId))
                    return false;
                if (!sameSubnet.every(b => ids.has(b.peerId)))
                    return false;
            }
            return true;
        }, { timeoutMs: 30_000, intervalMs: 300, what: 'each agent connected to h1 and its subnet' });
    });
    after(async () => {
        for (const a of hs)
            if (a.agent.alive())
                await a.agent.stop({ keepData: false });
        await office?.stop();
    });
    test('the router joins the subnets for unicast only: mDNS does not cross it', async () => {
        const v5 = await h(5).peers();
        const mdnsFound = v5.peers.filter(p => p.foundBy === 'mdns').map(p => p.peerId);
        for (const id of mdnsFound)
            assert.ok([h(4).peerId, h(6).peerId].includes(id), `h5 found only its own subnet by mDNS, not ${id}`);
        assert.equal(v5.peers.find(p => p.peerId === h(1).peerId)?.foundBy, 'static');
    });
    test('h2 pulls, then h5, then h6: upstream ≤ 1.02x the image, h5 finds h2 through the DHT', async (t) => {
        const img = imgs.routed;
        const total = imageBytes(img);
        office.proxy.reset();
        const r2 = await office.pull(2, 'e2e/office-routed:v1');
        assertPulled(r2, img, 'h2');
        const peer5 = await h(5).metric('layerd_bytes_by_source_total', { source: 'peer' });
        const r5 = await office.pull(5, 'e2e/office-routed:v1');
        assertPulled(r5, img, 'h5');
        const r6 = await office.pull(6, 'e2e/office-routed:v1');
        assertPulled(r6, img, 'h6');
        await office.proxy.idle();
        const up = office.blobBytes(img);
        const fromPeers5 = (await h(5).metric('layerd_bytes_by_source_total', { source: 'peer' })) - peer5;
        const v5 = await h(5).peers();
        const via = v5.peers.find(p => p.peerId === h(2).peerId)?.foundBy;
        t.diagnostic(`upstream blob bytes ${up} for an image of ${total} = ${ratio(up, total)}x; h5 took ${fromPeers5} from peers, found h2 by ${String(via)}; pulls ${r2.ms.toFixed(0)}/${r5.ms.toFixed(0)}/${r6.ms.toFixed(0)} ms`);
        if (up > total * 1.02)
            dumpOffice(t, office, hs);
        assert.ok(up <= total * 1.02, `upstream ${ratio(up, total)}x > 1.02x`);
        assert.ok(fromPeers5 >= total * 0.98, `h5 took ${fromPeers5} of ${total} bytes from peers`);
        assert.equal(via, 'dht', 'h5 reached h2 (another subnet) through the DHT');
    });
    test('a provider killed without a goodbye delays the next pull by at most 2 s', async (t) => {
        const img = imgs.dead;
        const r6 = await office.pull(6, 'e2e/office-dead:v1');
        assertPulled(r6, img, 'h6');
        // The same pull with no provider at all: an image of the same shape nobody holds.
        const control = await office.pull(3, 'e2e/office-control:v1');
        assertPulled(control, imgs.control, 'h3 (control)');
        // h6 vanishes: no goodbye, no RST (its link is down), its provider records stay in the DHT.
        await h(6).agent.kill9();
        await office.net.run(h(6).host, 'ip', ['link', 'set', 'eth0', 'down']);
        office.proxy.reset();
        const r3 = await office.pull(3, 'e2e/office-dead:v1');
        assertPulled(r3, img, 'h3');
        await office.proxy.idle();
        assert.equal(office.blobBytes(img), imageBytes(img), 'the blobs came from upstream, once');
        const delay = r3.ms - control.ms;
        t.diagnostic(`h3 pull with a dead provider ${r3.ms.toFixed(0)} ms, with none ${control.ms.toFixed(0)} ms: delayed ${delay.toFixed(0)} ms`);
        if (delay > 2000)
            dumpOffice(t, office, [h(3)]);
        assert.ok(delay <= 2000, `the dead provider delayed the pull ${delay.toFixed(0)} ms`);
    });
    test('offline: the upstream is gone; h2 pulls by tag, h3 by digest, h4 (other subnet) by tag', async (t) => {
        const img = imgs.offline;
        const r1 = await office.pull(1, 'e2e/office-offline:v1');
        assertPulled(r1, img, 'h1');
        await office.stopUpstream();
        // The answer says where the tag came from (and the agent logs it).
        const head = await office.net.run(h(2).host, 'curl', ['-sS', '-m', '60', '-D', '-', '-o', '/dev/null',
            '-H', `Accept: ${img.topMediaType}`, `http://127.0.0.1:${AGENT_PORT}/v2/e2e/office-offline/manifests/v1`], { timeoutMs: 70_000 });
        const headers = head.stdout.toLowerCase();
        t.diagnostic(head.stdout.trim().split('\n').filter(l => /^(http|docker-content-digest|x-layerd|warning)/i.test(l)).join(' | '));
        assert.match(headers, /^http\/1\.1 200/m);
        assert.match(headers, new RegExp(`^docker-content-digest: ${img.topDigest}`, 'm'));
        assert.match(headers, /^x-layerd-tag-source: office; peer=/m);
        const r2 = await office.pull(2, 'e2e/office-offline:v1', { timeoutMs: 90_000 });
        assertPulled(r2, img, 'h2 by tag');
        const r3 = await office.pull(3, `e2e/office-offline@${img.topDigest}`, { timeoutMs: 90_000 });
        assertPulled(r3, img, 'h3 by digest');
        const r4 = await office.pull(4, 'e2e/office-offline:v1', { timeoutMs: 90_000 });
        assertPulled(r4, img, 'h4 by tag, across the router');
        t.diagnostic(`offline pulls: h2 ${r2.ms.toFixed(0)} ms, h3 ${r3.ms.toFixed(0)} ms, h4 ${r4.ms.toFixed(0)} ms`);
        assert.ok(h(2).agent.logLines().some(l => l.msg === 'upstream unreachable: tag resolved without it'), 'h2 logged that the tag came from the office');
    });
});
//# sourceMappingURL=office-subnets.test.js.map