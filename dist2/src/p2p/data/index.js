// The data plane: bulk bytes between agents over HTTPS with a pre-shared key (keys.ts), beside
// libp2p, which keeps discovery, inventory and control. A peer's data endpoint is asked over
// libp2p once (endpoint.ts); a peer that has none, or whose data port cannot be reached, is
// served over the libp2p range protocol instead for a while.
import { verifiedRange } from '../verify.js';
import { Fetcher } from './fetcher.js';
import { EndpointService } from './endpoint.js';
import { DataServer } from './server.js';
/** Host and port the data server binds, from the first TCP listen multiaddr. */
export function dataListen(listen, dataPort) {
    for (const a of listen) {
        const m = /^\/ip([46])\/([^/]+)\/tcp\/(\d+)/.exec(a);
        if (m === null)
            continue;
        const p2pPort = Number(m[3]);
        return { host: m[2], port: dataPort ?? (p2pPort === 0 ? 0 : p2pPort + 1) };
    }
    return undefined;
}
export class DataPlane {
    components;
    libp2pFetch;
    server;
    endpoint;
    client;
    /** Per peer: its endpoint (asked once), or null when it has none. */
    endpoints = new Map();
    /** Peers reached over libp2p until the time given (their data port failed). */
    viaLibp2p = new Map();
    fallbackMs;
    unsubscribe;
    constructor(components, init, libp2pFetch) {
        this.components = components;
        this.libp2pFetch = libp2pFetch;
        const at = dataListen(init.listen, init.dataPort);
        const timeoutMs = init.requestTimeoutMs ?? 30_000;
        if (at !== undefined)
            this.server = new DataServer(components, { self: init.self, secret: init.secret, host: at.host, port: at.port, timeoutMs });
        this.endpoint = new EndpointService(components, { ...init, port: () => this.server?.port });
        this.client = new Fetcher(components.metrics, { self: init.self, secret: init.secret, connectionsPerPeer: init.connectionsPerPeer ?? 4, timeoutMs });
        this.fallbackMs = init.fallbackMs ?? 60_000;
    }
    /** The port our data server listens on. */
    get port() { return this.server?.port; }
    async start() {
        await this.server?.start();
        await this.endpoint.start();
        this.unsubscribe = this.components.connections.onDisconnect(peer => {
            this.endpoints.delete(peer);
            this.viaLibp2p.delete(peer);
            this.client.forget(peer);
        });
    }
    async stop() {
        this.unsubscribe?.();
        await this.endpoint.stop();
        await this.client.close();
        await this.server?.stop();
    }
    /**
     * Bytes [start, end) of `digest` from `peerId`: over the data plane (pieces checked in its
     * worker), else over libp2p (pieces checked here).
     */
    async *fetchRange(peerId, digest, start, end, signal, check) {
        const ep = (this.viaLibp2p.get(peerId) ?? 0) > Date.now() ? null : await this.endpointOf(peerId, signal);
        if (ep === null) {
            yield* this.overLibp2p(peerId, digest, start, end, signal, check);
            return;
        }
        let got = 0;
        try {
            for await (const chunk of this.client.fetch(peerId, ep, digest, start, end, signal, check)) {
                got += chunk.length;
                yield chunk;
            }
        }
        catch (err) {
            // The data port did not answer at all: reach this peer over libp2p for a while.
            if (got === 0 && signal?.aborted !== true && isConnectFailure(err)) {
                this.components.logger.info({ peer: peerId, err: String(err.message) }, 'data plane unreachable; using libp2p for this peer');
                this.viaLibp2p.set(peerId, Date.now() + this.fallbackMs);
                yield* this.overLibp2p(peerId, digest, start, end, signal, check);
                return;
            }
            throw err;
        }
    }
    overLibp2p(peerId, digest, start, end, signal, check) {
        if (check === undefined)
            return this.libp2pFetch(peerId, digest, start, end, signal);
        return verifiedRange((s, e) => this.libp2pFetch(peerId, digest, s, e, signal), start, end, check);
    }
    async endpointOf(peerId, signal) {
        let p = this.endpoints.get(peerId);
        if (p === undefined) {
            p = this.endpoint.endpointOf(peerId, signal).catch((err) => {
                this.components.logger.debug({ peer: peerId, err: String(err?.message ?? err) }, 'peer has no data plane');
                return null;
            });
            this.endpoints.set(peerId, p);
            // An aborted or failed question is asked again next time.
            void p.then((ep) => { if (ep === null && this.endpoints.get(peerId) === p)
                this.endpoints.delete(peerId); });
        }
        const ep = await p;
        if (ep === null && !this.viaLibp2p.has(peerId))
            this.viaLibp2p.set(peerId, Date.now() + this.fallbackMs);
        return ep;
    }
}
/** A failure to reach the data port (refused, unreachable, timed out, handshake refused). */
function isConnectFailure(err) {
    const causes = [err, err?.cause];
    return causes.some(e => {
        const code = e?.code;
        return typeof code === 'string' && /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET|ERR_SSL_.*)$/.test(code);
    });
}
//# sourceMappingURL=index.js.map