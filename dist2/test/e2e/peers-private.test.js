// Issue 9, private registries without leaks, end to end: three agents in their own network
// namespaces, the upstream a docker-registry with Basic auth (htpasswd) configured `shareable:
// true` on every agent. A and B hold working credentials, C a wrong password.
//
// - A pulls; B pulls next: B's own credentials authorise each blob (a HEAD upstream), then the
//   bytes come from A — upstream still carries about one copy.
// - C asks its agent for a blob A and B hold: its HEAD is refused (401), the client gets the 401,
//   and C takes no byte from a neighbour.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopAll } from '../helpers/proc.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startOffice, dumpOffice, waitForMesh, waitForHolder, imageBlobs, imageBytes, assertPulled, ratio, UPSTREAM_NAME } from '../helpers/office.js';
after(stopAll);
const MiB = 1 << 20;
const WRONG = 'Wr0ng-pass-layerd-5d1e';
describe('issue 9: a credentialed registry shared only between agents whose credentials work', { timeout: 240_000 }, () => {
    let office;
    let A, B, C;
    let img;
    before(async () => {
        office = await startOffice({ hosts: 3, registry: { auth: 'htpasswd' }, config: { upstreams: { [UPSTREAM_NAME]: { shareable: true } } } });
        const { pushCreds, pullCreds } = office.registry;
        assert.ok(pushCreds !== undefined && pullCreds !== undefined);
        img = await buildImage({ name: 'e2e/private', tag: 'v1', layers: [8 * MiB, 6 * MiB], seed: 'e2e-peers-private' });
        await pushImage(img, office.registry.host, 'e2e/private', 'v1', pushCreds);
        const good = join(office.dir, 'good.pw');
        const bad = join(office.dir, 'bad.pw');
        writeFileSync(good, pullCreds.password + '\n', { mode: 0o600 });
        writeFileSync(bad, WRONG + '\n', { mode: 0o600 });
        const creds = (file) => ['--credentials', `${UPSTREAM_NAME}=${pullCreds.username}:${file}`];
        [A, B, C] = await Promise.all([good, good, bad].map(async (file, i) => await office.startAgent(i + 1, { extraArgs: creds(file) })));
        await waitForMesh([A, B, C]);
    });
    after(async () => {
        for (const a of [A, B, C])
            if (a !== undefined && a.agent.alive())
                await a.agent.stop();
        await office?.stop();
    });
    test('B, with its own working credentials, HEADs each blob upstream and then takes the bytes from A', async (t) => {
        office.proxy.reset();
        const ra = await office.pull(1, 'e2e/private:v1');
        if (!ra.skopeo.ok)
            dumpOffice(t, office, [A]);
        assertPulled(ra, img, 'A');
        const blobs = imageBlobs(img);
        await waitForHolder(B, A, blobs.length);
        const afterA = office.blobBytes(img);
        office.proxy.reset();
        const rb = await office.pull(2, 'e2e/private:v1');
        if (!rb.skopeo.ok)
            dumpOffice(t, office, [A, B]);
        assertPulled(rb, img, 'B');
        const fromUpstream = office.blobBytes(img);
        t.diagnostic(`upstream blob bytes: A ${ratio(afterA, imageBytes(img))}x, then B ${ratio(fromUpstream, imageBytes(img))}x`);
        for (const b of blobs) {
            assert.ok(office.proxy.requestsFor(`/blobs/${b.digest}`, 'HEAD').some(r => r.status === 200), `B's credentials authorised ${b.digest}`);
        }
        assert.ok(fromUpstream <= 0.05 * imageBytes(img), `B fetched ${fromUpstream} blob bytes upstream; they should come from A`);
        assert.ok(await B.metric('layerd_bytes_by_source_total', { source: 'peer' }) >= img.layers.reduce((n, l) => n + l.size, 0));
    });
    test('C, whose password is wrong, gets the 401 and no byte from a neighbour', async () => {
        const layer = img.layers[0];
        assert.ok(layer !== undefined);
        await waitForHolder(C, A, imageBlobs(img).length);
        const r = await C.get(`/v2/e2e/private/blobs/${layer.digest}`);
        assert.equal(r.status, 401, r.body.slice(0, 300));
        assert.match(r.body, /UNAUTHORIZED/);
        assert.ok(!r.body.includes(WRONG));
        assert.equal(await C.metric('layerd_bytes_by_source_total', { source: 'peer' }), 0);
        assert.equal(await C.metric('layerd_peer_bytes_received_total'), 0);
    });
});
//# sourceMappingURL=peers-private.test.js.map