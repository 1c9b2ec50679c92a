// A small OCI registry in this process, for in-process tests of the agent and its edge: blobs
// (with single Range support, like docker-registry) and manifests by tag or digest, on
// 127.0.0.1 port 0. It counts the blob bytes it sends, so a test can assert what came upstream.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
const digestOf = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');
export async function startFakeRegistry() {
    const blobs = new Map();
    const manifests = new Map();
    const reg = {
        url: '',
        blobBytes: new Map(),
        requests: [],
        down: false,
        addBlob: (data) => { const d = digestOf(data); blobs.set(d, data); return d; },
        addManifest: (repo, tag, body, mediaType) => {
            const d = digestOf(body);
            manifests.set(`${repo}:${tag}`, { body, mediaType });
            manifests.set(`${repo}:${d}`, { body, mediaType });
            return d;
        },
        close: async () => {
            server.closeAllConnections();
            await new Promise(resolve => server.close(() => resolve()));
        }
    };
    const server = createServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        reg.requests.push({ method: req.method ?? 'GET', path, range: req.headers.range });
        if (reg.down) {
            res.writeHead(503).end();
            return;
        }
        if (path === '/v2/') {
            res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
            return;
        }
        const m = /^\/v2\/(.+)\/(blobs|manifests)\/([^/]+)$/.exec(path);
        if (m === null) {
            res.writeHead(404).end();
            return;
        }
        const [, repo, kind, ref] = m;
        if (kind === 'manifests') {
            const man = manifests.get(`${repo}:${ref}`);
            if (man === undefined) {
                res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
                return;
            }
            res.writeHead(200, { 'content-type': man.mediaType, 'docker-content-digest': digestOf(man.body), 'content-length': man.body.length });
            res.end(req.method === 'HEAD' ? undefined : man.body);
            return;
        }
        const data = blobs.get(ref);
        if (data === undefined) {
            res.writeHead(404).end();
            return;
        }
        let start = 0;
        let end = data.length;
        const r = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
        const headers = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', etag: `"${ref}"` };
        if (r !== null) {
            start = Number(r[1]);
            end = r[2] === '' ? data.length : Math.min(data.length, Number(r[2]) + 1);
            if (start >= data.length) {
                res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
                return;
            }
            headers['content-range'] = `bytes ${start}-${end - 1}/${data.length}`;
        }
        headers['content-length'] = end - start;
        res.writeHead(r !== null ? 206 : 200, headers);
        if (req.method === 'HEAD') {
            res.end();
            return;
        }
        reg.blobBytes.set(ref, (reg.blobBytes.get(ref) ?? 0) + end - start);
        res.end(data.subarray(start, end));
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    reg.url = `http://127.0.0.1:${server.address().port}`;
    return reg;
}
//# sourceMappingURL=fake-registry.js.map