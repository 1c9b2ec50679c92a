// The dialer between two real nodes on loopback: a static peer without /p2p/ is dialled and
// re-dialled after a hang-up; a discovered peer is dialled once however often it is reported.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/log.js';
import { Dialer } from '../../../src/p2p/dialer.js';
import { ConfigError } from '../../../src/errors.js';
import { waitFor, within } from './fixtures.js';
import { meshNode } from './mesh.js';
const running = [];
afterEach(async () => { await Promise.allSettled(running.splice(0).reverse().map(async (n) => await within(n.stop(), 10_000, 'stop'))); });
async function mesh() {
    const n = await meshNode();
    running.push(n);
    return n;
}
async function dialer(on, peers = []) {
    let count = 0;
    const dial = on.node.dial.bind(on.node);
    on.node.dial = async (...args) => { count++; return await dial(...args); };
    const d = new Dialer({ libp2p: on.node, connections: on.connections, logger: silentLogger() }, { peers, redialMinMs: 50, redialMaxMs: 200, dialTimeoutMs: 2000 });
    await d.start();
    d.afterStart();
    running.push(d);
    return { dialer: d, dials: () => count };
}
describe('Dialer', () => {
    it('dials a static peer given without /p2p/ and dials it again after a hang-up', async () => {
        const a = await mesh();
        const b = await mesh();
        const addr = a.node.getMultiaddrs()[0].toString().replace(/\/p2p\/.*$/, '');
        const { dials } = await dialer(b, [addr]);
        await waitFor(() => b.connections.isConnected(a.peerId), 5000, 'the first dial');
        const first = dials();
        await a.node.hangUp(b.node.peerId);
        await waitFor(() => dials() > first && b.connections.isConnected(a.peerId), 5000, 'the re-dial');
    });
    it('a peer reported again and again is dialled once; ourselves never', async () => {
        const a = await mesh();
        const b = await mesh();
        await b.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() });
        const { dials } = await dialer(b);
        const report = (m) => { b.node.dispatchEvent(new CustomEvent('peer:discovery', { detail: { id: m.node.peerId, multiaddrs: m.node.getMultiaddrs() } })); };
        report(a);
        report(a);
        report(a);
        report(b);
        assert.equal(dials(), 1);
        await waitFor(() => b.connections.isConnected(a.peerId), 5000, 'connected');
        report(a);
        assert.equal(dials(), 1, 'a connected peer is not dialled again');
    });
    it('a static peer that is not a multiaddr is a ConfigError', () => {
        assert.throws(() => new Dialer({ libp2p: undefined, connections: { connectionTo: () => undefined, noteFoundBy: () => { } }, logger: silentLogger() }, { peers: ['10.0.0.1:4050'] }), ConfigError);
    });
});
//# sourceMappingURL=dialer.test.js.map