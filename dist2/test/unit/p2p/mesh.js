// A bare layerd mesh node for service tests: the libp2p node of node.ts with Connections,
// PeerHealth and a MeshRouter on it, on 127.0.0.1 with mDNS off. No range or pieces service.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { silentLogger } from '../../../src/log.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { connections as connectionsService, createNode, meshRouter, PeerHealth } from '../../../src/p2p/index.js';
export async function meshNode(init = {}) {
    const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
    const metrics = createMetrics({ defaultMetrics: false });
    const logger = silentLogger();
    const health = new PeerHealth();
    const connections = connectionsService({ libp2p: node, metrics, logger });
    const router = meshRouter({ libp2p: node, connections, health, metrics, logger }, { inventoryThrottleMs: 20, redialMinMs: 100, redialMaxMs: 500, requestTimeoutMs: 5_000, ...init });
    await connections.start();
    await router.start();
    await node.start();
    let stopped;
    const stop = async () => {
        stopped ??= (async () => {
            const services = [router.stop(), connections.stop()];
            health.stop();
            await node.stop();
            await Promise.all(services);
        })();
        await stopped;
    };
    return { node, peerId: node.peerId.toString(), connections, health, router, metrics, stop };
}
//# sourceMappingURL=mesh.js.map