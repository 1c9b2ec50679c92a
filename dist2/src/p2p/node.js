// The libp2p node of a layerd agent: TCP, noise (with the office secret as prologue), yamux
// tuned for paused readers, identify, and mDNS with our own service tag. Callers add services and
// discovery (kad-dht, ping, ...) through `services` / `peerDiscovery`. The node is returned
// unstarted so protocol handlers and listeners can be in place before the first connection.
import '../polyfill.js';
import { createHash } from 'node:crypto';
import { noise } from '@chainsafe/libp2p-noise';
import { identify } from '@libp2p/identify';
import { mdns } from '@libp2p/mdns';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { createLibp2p } from 'libp2p';
import { DEFAULTS } from '../config/defaults.js';
export const SECRET_PROLOGUE_LABEL = 'layerd/office-secret/v1';
/** The noise prologue for an office secret: peers with another secret fail the handshake. */
export function officePrologue(secret) {
    return createHash('sha256').update(SECRET_PROLOGUE_LABEL).update(secret).digest();
}
const MiB = 1024 * 1024;
/**
 * A paused reader must not reset the stream: yamux's default window (16 MiB) is larger than its
 * read buffer (4 MiB). See /work/shared/notes/environment.md, "libp2p v3 on Node 20".
 */
const YAMUX_STREAM_OPTIONS = { maxStreamWindowSize: 4 * MiB, maxReadBufferLength: 8 * MiB };
/**
 * Idle connections stay silent: libp2p's connection monitor (a ping stream, with protocol
 * negotiation, every 10 s on every connection) and yamux keep-alives cost more than anything an
 * idle office does, and grow with the square of its size. A peer that is gone is found out by the
 * request that needs it (bounded timeouts), or by TCP itself.
 */
const QUIET = { connectionMonitor: { enabled: false } };
/** Build (not start) the libp2p node. */
export async function createNode(init) {
    if (init.secret === undefined)
        init.logger?.warn('no office secret configured: this agent joins any layerd agent on the LAN');
    const discovery = [...(init.peerDiscovery ?? [])];
    if (init.mdns ?? DEFAULTS.p2p.mdns) {
        const factory = mdns({ interval: init.mdnsIntervalMs ?? DEFAULTS.p2p.mdnsIntervalMs, serviceTag: init.serviceTag ?? DEFAULTS.p2p.serviceTag });
        // Tap mDNS's own events: libp2p reports every discovery (the DHT's too) as one kind.
        discovery.unshift((components) => {
            const svc = factory(components);
            svc.addEventListener('peer', (e) => { init.onMdnsPeer?.(e.detail.id.toString()); });
            return svc;
        });
    }
    const services = { identify: identify(), ...init.services };
    return await createLibp2p({
        privateKey: init.privateKey,
        addresses: { listen: [...(init.listen ?? DEFAULTS.p2p.listen)] },
        transports: [tcp()],
        connectionEncrypters: [noise(init.secret !== undefined ? { prologueBytes: officePrologue(init.secret) } : {})],
        streamMuxers: [yamux({ streamOptions: YAMUX_STREAM_OPTIONS, enableKeepAlive: false })],
        peerDiscovery: discovery,
        services,
        connectionManager: { inboundConnectionThreshold: 20 },
        ...QUIET,
        start: false
    });
}
//# sourceMappingURL=node.js.map