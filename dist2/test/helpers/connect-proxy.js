// A test-owned forward proxy on 127.0.0.1 port 0, as an office has one: CONNECT tunnels (what
// HTTPS clients and undici's ProxyAgent use) and plain-HTTP requests in absolute form
// (`GET http://host:port/path`). It resolves host names itself from a table (`hosts`: e.g.
// registry.test → 127.0.0.1), so a client behind it needs no DNS for them, and it never opens a
// connection anywhere but loopback: a target that is neither in the table nor a loopback address
// is refused (403). It logs every request, counts bytes, can require Basic proxy credentials (407
// otherwise) and can refuse everything on demand.
import { createServer, request as httpRequest } from 'node:http';
import { connect as tcpConnect, isIP } from 'node:net';
import { closeServer, listenLoopback } from './ports.js';
import { own } from './proc.js';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1)$/;
export async function startConnectProxy(opts = {}) {
    let log = [];
    let refusing;
    const sockets = new Set();
    const track = (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => { });
    };
    const expectedAuth = opts.auth === undefined ? undefined : 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64');
    /** The log entry of a request, and the loopback address to connect to, or the status to refuse with. */
    const admit = (req, kind, target) => {
        const entry = { kind, target, status: 0, reached: false, down: 0, up: 0, proxyAuthorization: req.headers['proxy-authorization'] };
        log.push(entry);
        if (refusing !== undefined)
            return { entry, refuse: refusing };
        if (expectedAuth !== undefined && req.headers['proxy-authorization'] !== expectedAuth)
            return { entry, refuse: 407 };
        const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
        if (m === null)
            return { entry, refuse: 400 };
        const name = m[1].replace(/^\[(.*)\]$/, '$1').toLowerCase();
        const address = opts.hosts?.[name] ?? (isIP(name) !== 0 ? name : undefined);
        // The network rule of the tests: nothing but loopback, whatever a client asks for.
        if (address === undefined || !LOOPBACK.test(address))
            return { entry, refuse: 403 };
        return { entry, address, port: Number(m[2]) };
    };
    const AUTH_HEADER = { 'proxy-authenticate': 'Basic realm="test-proxy"' };
    const server = createServer((req, res) => {
        let url;
        try {
            url = new URL(req.url ?? '');
        }
        catch {
            res.writeHead(400);
            res.end();
            return;
        }
        if (url.protocol !== 'http:') {
            res.writeHead(400);
            res.end();
            return;
        }
        const a = admit(req, 'forward', `${url.hostname}:${url.port !== '' ? url.port : '80'}`);
        if (a.refuse !== undefined) {
            a.entry.status = a.refuse;
            res.writeHead(a.refuse, a.refuse === 407 ? AUTH_HEADER : {});
            res.end();
            return;
        }
        const headers = { ...req.headers };
        delete headers['proxy-authorization'];
        delete headers['proxy-connection'];
        const out = httpRequest({ host: a.address, port: a.port, method: req.method, path: url.pathname + url.search, headers }, (up) => {
            a.entry.reached = true;
            a.entry.status = up.statusCode ?? 0;
            up.on('data', (b) => { a.entry.down += b.length; });
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
        });
        out.on('error', () => { if (!res.headersSent) {
            a.entry.status = 502;
            res.writeHead(502);
            res.end();
        }
        else
            res.destroy(); });
        req.on('data', (b) => { a.entry.up += b.length; });
        req.pipe(out);
    });
    server.on('connection', track);
    server.on('connect', (req, client, head) => {
        track(client);
        const a = admit(req, 'connect', req.url ?? '');
        const answer = (status, extra = '') => {
            a.entry.status = status;
            client.end(`HTTP/1.1 ${status} Refused by test proxy\r\n${extra}content-length: 0\r\nconnection: close\r\n\r\n`);
        };
        if (a.refuse !== undefined) {
            answer(a.refuse, a.refuse === 407 ? 'proxy-authenticate: Basic realm="test-proxy"\r\n' : '');
            return;
        }
        const upstream = tcpConnect({ host: a.address, port: a.port });
        track(upstream);
        upstream.once('error', () => { if (!a.entry.reached)
            answer(502);
        else
            client.destroy(); });
        upstream.once('connect', () => {
            a.entry.status = 200;
            a.entry.reached = true;
            client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
            if (head.length > 0) {
                a.entry.up += head.length;
                upstream.write(head);
            }
            upstream.on('data', (b) => { a.entry.down += b.length; });
            client.on('data', (b) => { a.entry.up += b.length; });
            upstream.pipe(client);
            client.pipe(upstream);
            client.on('close', () => upstream.destroy());
            upstream.on('close', () => client.destroy());
        });
    });
    const port = await listenLoopback(server);
    let stopped = false;
    const stop = async () => {
        if (stopped)
            return;
        stopped = true;
        unregister();
        for (const s of sockets)
            s.destroy();
        await closeServer(server);
    };
    const unregister = own(stop, opts.cleanup);
    return {
        url: `http://127.0.0.1:${port}`,
        port,
        requests: () => [...log],
        reached: (host) => log.filter(e => e.reached && (host === undefined || e.target.startsWith(`${host}:`))),
        bytesDown: () => log.reduce((n, e) => n + e.down, 0),
        refuse: (status) => { refusing = status; },
        dropConnections: () => { for (const s of sockets)
            s.destroy(); },
        reset: () => { log = []; },
        stop
    };
}
//# sourceMappingURL=connect-proxy.js.map