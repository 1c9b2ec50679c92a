// Diagnostic for the peer data plane: how fast can bytes go from one process to another over
// loopback, encrypted, with sha256 on the receiver — with the transports layerd could use for
// bulk bytes. Separate processes (sender serves a file from the page cache).
//
//   npm run build && node dist/bench/dataplane-probe.js FILE [runs=3]
//
// Prints one line per transport: `name: MB/s (median of runs)`, and `DATAPLANE_PROBE {json}`.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect as netConnect, createServer as netCreateServer } from 'node:net';
import { connect as tlsConnect, createServer as tlsCreateServer } from 'node:tls';
import { Agent, request } from 'undici';
import { median } from './lib.js';
const PSK = Buffer.alloc(32, 7);
const IDENTITY = 'probe';
const TLS = { ciphers: 'TLS_AES_128_GCM_SHA256', minVersion: 'TLSv1.3' };
const CHUNK = 1024 * 1024;
async function serve(file) {
    const size = statSync(file).size;
    // Plain TCP and PSK-TLS: every connection gets the whole file.
    const stream = (sock) => {
        sock.on('error', () => { });
        createReadStream(file, { highWaterMark: CHUNK }).pipe(sock);
    };
    const tcp = netCreateServer(stream);
    const tls = tlsCreateServer({ ...TLS, pskCallback: (_s, id) => id === IDENTITY ? PSK : null }, stream);
    // HTTPS (HTTP/1.1 over PSK-TLS): GET / answers the file, keep-alive.
    const fh = await open(file, 'r');
    const https = createHttpsServer({ ...TLS, pskCallback: (_s, id) => id === IDENTITY ? PSK : null }, (_req, res) => {
        res.writeHead(200, { 'content-length': size });
        createReadStream('', { fd: fh.fd, start: 0, highWaterMark: CHUNK, autoClose: false }).pipe(res);
    });
    const listen = async (s) => await new Promise(resolve => s.listen(0, '127.0.0.1', () => resolve(s.address().port)));
    const ports = { tcp: await listen(tcp), tls: await listen(tls), https: await listen(https) };
    process.send(ports);
    process.on('message', () => process.exit(0));
}
async function drain(sock) {
    const h = createHash('sha256');
    let bytes = 0;
    await new Promise((resolve, reject) => {
        sock.on('data', (b) => { bytes += b.length; h.update(b); });
        sock.on('end', resolve);
        sock.on('error', reject);
    });
    return { bytes, sha: h.digest('hex') };
}
async function main() {
    const file = process.argv[2];
    if (file === undefined) {
        process.stderr.write('usage: dataplane-probe FILE [runs]\n');
        process.exit(2);
    }
    const runs = Number(process.argv[3] ?? 3);
    const size = statSync(file).size;
    const child = fork(new URL(import.meta.url).pathname, ['serve', file]);
    const ports = await new Promise(resolve => child.once('message', (m) => resolve(m)));
    const agent = new Agent({ connect: { ...TLS, pskCallback: () => ({ psk: PSK, identity: IDENTITY }), checkServerIdentity: () => undefined, rejectUnauthorized: false } });
    const httpsAgent = new HttpsAgent({ keepAlive: true, maxCachedSessions: 0 });
    const ways = {
        'plain TCP + sha256': async () => (await drain(netConnect(ports.tcp, '127.0.0.1'))).bytes,
        'TLS 1.3 PSK AES-128-GCM, raw socket + sha256': async () => (await drain(tlsConnect({ port: ports.tls, host: '127.0.0.1', ...TLS, pskCallback: () => ({ psk: PSK, identity: IDENTITY }), checkServerIdentity: () => undefined }))).bytes,
        'HTTPS (PSK) + node:https client + sha256': async () => await new Promise((resolve, reject) => {
            const req = httpsRequest({ host: '127.0.0.1', port: ports.https, path: '/', agent: httpsAgent, ...TLS, pskCallback: () => ({ psk: PSK, identity: IDENTITY }), checkServerIdentity: () => undefined }, (res) => {
                drain(res).then(r => resolve(r.bytes), reject);
            });
            req.on('error', reject);
            req.end();
        }),
        'HTTPS (PSK) + undici + sha256': async () => {
            const res = await request(`https://127.0.0.1:${ports.https}/`, { dispatcher: agent });
            const h = createHash('sha256');
            let n = 0;
            for await (const c of res.body) {
                n += c.length;
                h.update(c);
            }
            return n;
        }
    };
    const out = {};
    for (const [name, fn] of Object.entries(ways)) {
        const mbs = [];
        for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            const n = await fn();
            if (n !== size)
                throw new Error(`${name}: ${n} of ${size} bytes`);
            mbs.push(size / 1e6 / ((performance.now() - t0) / 1000));
        }
        out[name] = median(mbs);
        console.log(`${name}: ${out[name].toFixed(0)} MB/s [${mbs.map(x => x.toFixed(0)).join(' ')}]`);
    }
    console.log(`DATAPLANE_PROBE ${JSON.stringify(out)}`);
    await agent.close();
    child.send('stop');
}
if (process.argv[2] === 'serve')
    await serve(process.argv[3]);
else
    await main();
//# sourceMappingURL=dataplane-probe.js.map