// Issue 9, the upstream bandwidth cap: with `upstream.rate: 2MiB` a 6 MiB cold blob through the
// agent takes at least ~2.5 s (a lower bound: the cap is respected, whatever the machine's speed),
// the counting proxy in front of the real docker-registry still sees exactly one copy, and
// /_layerd/status shows the cap.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeTempDir, stopAll } from '../helpers/proc.js';
import { startRegistry } from '../helpers/registry.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startProxy } from '../helpers/proxy.js';
import { startAgent } from '../helpers/agent.js';
import { rawRequest, writeConfig } from '../helpers/agent-http.js';
after(stopAll);
const MiB = 1 << 20;
describe('upstream.rate', () => {
    let proxy;
    let agent;
    let img;
    before(async () => {
        const reg = await startRegistry();
        img = await buildImage({ name: 'rate/app', tag: 'v1', layers: [6 * MiB], seed: 'it-rate' });
        await pushImage(img, reg.host, 'rate/app', 'v1');
        proxy = await startProxy(reg.url);
        const config = writeConfig(join(makeTempDir('it-rate'), 'layerd.yaml'), { upstream: { rate: '2MiB' } });
        agent = await startAgent({ upstreams: { 'rate.test': proxy.url }, extraArgs: ['--no-p2p', '--config', config] });
    });
    test('the status endpoint shows the cap', async () => {
        const st = await rawRequest(agent.url, '/_layerd/status');
        assert.equal(st.status, 200);
        assert.equal(JSON.parse(st.body.toString('utf8')).upstream.rate, 2 * MiB);
    });
    test('a 6 MiB cold blob under a 2 MiB/s cap takes at least 2.5 s; upstream sends exactly one copy; bytes verify', async (t) => {
        const layer = img.layers[0];
        assert.ok(layer !== undefined && layer.size >= 6 * MiB);
        const started = Date.now();
        const r = await rawRequest(agent.url, `/v2/rate/app/blobs/${layer.digest}`, { keepBody: false });
        const seconds = (Date.now() - started) / 1000;
        t.diagnostic(`${(layer.size / MiB).toFixed(2)} MiB in ${seconds.toFixed(2)} s`);
        assert.equal(r.status, 200);
        assert.equal(`sha256:${r.sha256}`, layer.digest);
        // The bucket starts with a quarter second of tokens (0.5 MiB): (6 - 0.5) / 2 = 2.75 s at the least.
        assert.ok(seconds >= 2.5, `the cap was not respected: ${seconds.toFixed(2)} s`);
        await proxy.idle();
        assert.equal(proxy.bytesFor(layer.digest), layer.size, 'exactly one upstream copy');
    });
});
//# sourceMappingURL=upstream-rate.test.js.map