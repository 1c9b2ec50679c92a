import { once } from 'node:events';
import { createServer } from 'node:http';
import { DEFAULTS } from '../config/defaults.js';
import { NameInvalidError, RegistryUnknownError, UnsupportedError, errorMessage, isLayerdError } from '../errors.js';
import { canonicalRegistry, isRegistryHost, parseDigest, parseName } from '../oci/reference.js';
import { serveAdmin } from './admin.js';
import { serveBlob } from './blobs.js';
import { API_HEADER } from './http.js';
import { serveManifest } from './manifests.js';
import { sendError } from './oci-errors.js';
// /v2/<name>/(manifests|blobs)/<ref>; <name> may have several components, so match the last verb.
const ROUTE = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/;
const UPLOADS = /^\/v2\/(.+)\/blobs\/uploads(\/.*)?$/;
/**
 * The HTTP edge: the OCI distribution pull API, /metrics and the local admin endpoints.
 * Parses and validates input, then calls the store, the session manager and the upstream.
 * Typed errors become OCI JSON here and nowhere else.
 */
export class RegistryServer {
    init;
    server;
    deps;
    constructor(init) {
        this.init = init;
        const { store, sessions, upstream, metrics, logger } = init;
        this.deps = { store, sessions, upstream, metrics, logger, maxManifestBytes: init.maxManifestBytes ?? DEFAULTS.upstream.maxManifestBytes, office: init.office };
        this.server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 0, keepAliveTimeout: 30_000 }, (req, res) => {
            this.handle(req, res).catch((err) => {
                this.init.logger.error({ err: errorMessage(err) }, 'unhandled error in request handler');
                if (!res.headersSent)
                    sendError(res, err);
                else
                    res.destroy();
            });
        });
        this.server.on('clientError', (err, socket) => {
            // Oversized or malformed requests: answer plainly, never crash.
            if (socket.writable) {
                const status = err?.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
                socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
            }
            else
                socket.destroy();
        });
    }
    async listen(host, port) {
        this.server.listen(port, host);
        await Promise.race([
            once(this.server, 'listening'),
            once(this.server, 'error').then(([err]) => { throw err; })
        ]);
        return this.server.address();
    }
    async close() {
        await new Promise(resolve => {
            this.server.close(() => resolve());
            this.server.closeAllConnections();
        });
    }
    async handle(req, res) {
        // Route on the raw path: URL parsing would resolve `..` and hide a traversal attempt.
        const raw = req.url ?? '/';
        const q = raw.indexOf('?');
        const path = q < 0 ? raw : raw.slice(0, q);
        const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
        const method = req.method ?? 'GET';
        const head = method === 'HEAD';
        let route = 'other';
        try {
            if (path === '/v2/' || path === '/v2') {
                route = 'base';
                if (method !== 'GET' && !head)
                    throw new UnsupportedError('method not allowed');
                res.writeHead(200, { ...API_HEADER, 'Content-Type': 'application/json', 'Content-Length': 2 });
                res.end(head ? undefined : '{}');
            }
            else if (path === '/metrics') {
                route = 'metrics';
                if (method !== 'GET' && !head)
                    throw new UnsupportedError('method not allowed');
                await this.metrics(res);
            }
            else if (path === '/' && this.init.page !== undefined) {
                route = 'page';
                await this.init.page(req, res);
            }
            else if (path.startsWith('/_layerd/')) {
                route = 'admin';
                await serveAdmin(this.init.adminRoutes ?? {}, path.slice('/_layerd/'.length), req, res);
            }
            else if (UPLOADS.test(path) || (method !== 'GET' && !head)) {
                throw new UnsupportedError(`${method} ${path.slice(0, 128)} is not supported: layerd is a pull-only mirror`);
            }
            else {
                const m = ROUTE.exec(path);
                if (m === null) {
                    if (path.startsWith('/v2/'))
                        throw new UnsupportedError('this registry API endpoint is not supported by the mirror');
                    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
                }
                else {
                    const name = parseName(m[1]);
                    const ctx = { registry: this.registryOf(query), repository: name };
                    if (m[2] === 'blobs') {
                        route = 'blob';
                        await serveBlob(this.deps, ctx, parseDigest(m[3]), req, res, head);
                    }
                    else {
                        route = 'manifest';
                        await serveManifest(this.deps, ctx, m[3], req, res, head);
                    }
                }
            }
        }
        catch (err) {
            if (res.headersSent) {
                // Mid-body failure: cut the connection so the client sees an incomplete transfer and
                // retries (with Range), instead of taking a short body as the blob.
                this.init.logger.warn({ path, err: errorMessage(err) }, 'response aborted mid-body');
                res.destroy();
            }
            else {
                const status = sendError(res, err, head);
                const level = status >= 500 ? 'warn' : 'info';
                this.init.logger[level]({ method, path, status, code: isLayerdError(err) ? err.code : undefined, err: errorMessage(err) }, 'request failed');
            }
        }
        finally {
            this.init.metrics.httpRequests.inc({ route, status: String(res.statusCode) });
        }
    }
    /** `?ns=<registry>` (containerd) picks the upstream; otherwise the default registry. */
    registryOf(query) {
        const ns = query.get('ns');
        if (ns === null || ns === '')
            return this.init.defaultRegistry;
        if (!isRegistryHost(ns))
            throw new NameInvalidError(`invalid ns parameter ${JSON.stringify(ns.slice(0, 64))}`);
        const known = this.init.knownRegistries();
        if (known.includes(ns))
            return ns;
        // containerd writes Docker Hub as docker.io; some tools use its API host.
        if (known.includes(canonicalRegistry(ns)))
            return canonicalRegistry(ns);
        throw new RegistryUnknownError(`registry ${JSON.stringify(ns)} is not configured: add --upstream ${ns}=https://${ns}`);
    }
    async metrics(res) {
        const { metrics, store } = this.init;
        // The store keeps its counts up to date: a scrape never walks the index.
        for (const s of ['partial', 'complete']) {
            metrics.storedBlobs.set({ state: s }, store.stats.blobs[s]);
            metrics.storedBytes.set({ state: s }, store.stats.bytes[s]);
        }
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(text);
    }
}
//# sourceMappingURL=server.js.map