// Makes docs/status-page.png: three agents on loopback (B has A and C as static peers), a few
// minutes of clients reading through B at a human pace — from peers, from B's own disk, from
// upstream — and one upstream transfer held half way, then a screenshot of B's status page.
//   npm run build && node dist/test/scenes/status-page.js docs/status-page.png
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, AGENT_BIN, REPO_ROOT } from '../helpers/agent.js';
import { rawRequest } from '../helpers/agent-http.js';
import { screenshot } from '../helpers/chromium.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { runOk, stopAll, waitFor } from '../helpers/proc.js';
import { startProxy } from '../helpers/proxy.js';
import { startRegistry } from '../helpers/registry.js';
const MiB = 1 << 20;
const out = process.argv[2] ?? 'status-page.png';
/** GET a blob through `agent`, reading at about `rate` bytes per second (a client on a slow disk). */
async function slowGet(agent, name, digest, rate) {
    await new Promise((resolve, reject) => {
        get(`${agent.url}/v2/${name}/blobs/${digest}`, (res) => {
            const t0 = Date.now();
            let got = 0;
            res.on('data', (c) => {
                got += c.length;
                const ahead = got / rate * 1000 - (Date.now() - t0);
                if (ahead > 20) {
                    res.pause();
                    setTimeout(() => res.resume(), ahead);
                }
            });
            res.on('end', () => resolve());
            res.on('error', reject);
        }).on('error', reject);
    });
}
async function pullInto(agent, ref) {
    await runOk(process.execPath, [AGENT_BIN, 'pull', '--listen', agent.host, ref], { cwd: REPO_ROOT, timeoutMs: 300_000 });
}
async function main() {
    const reg = await startRegistry();
    const images = {};
    for (const [name, layers] of [['team/api', [48 * MiB, 16 * MiB, 6 * MiB]], ['team/web', [36 * MiB, 12 * MiB]], ['tools/ci', [40 * MiB, 8 * MiB]], ['base/jdk', [96 * MiB]]]) {
        images[name] = await buildImage({ name, tag: 'v1', layers: [...layers], seed: `scene-${name}` });
        await pushImage(images[name], reg.host, name, 'v1');
    }
    const proxy = await startProxy(reg.url);
    const up = { 'registry.example.com': proxy.url };
    const a = await startAgent({ upstreams: up });
    const c = await startAgent({ upstreams: up });
    const addr = async (x) => (await x.waitForLog(l => l.msg === 'p2p started')).addresses[0];
    const b = await startAgent({ upstreams: up, extraArgs: ['--peer', await addr(a), '--peer', await addr(c)] });
    await pullInto(a, 'registry.example.com/team/api:v1');
    await pullInto(c, 'registry.example.com/team/web:v1');
    await waitFor(async () => JSON.parse((await rawRequest(b.url, '/_layerd/status')).body.toString()).peers.length === 2, { timeoutMs: 30_000 });
    const layers = (n) => images[n].layers.map(l => l.digest);
    // From the peers, a layer at a time; then again from B's disk; then upstream, beside a local read.
    for (const d of layers('team/api'))
        await slowGet(b, 'team/api', d, 9 * MiB);
    await sleep(8000);
    for (const d of layers('team/web'))
        await slowGet(b, 'team/web', d, 7 * MiB);
    await sleep(6000);
    await Promise.all([
        (async () => { for (const d of layers('tools/ci'))
            await slowGet(b, 'tools/ci', d, 5 * MiB); })(),
        (async () => { await sleep(3000); for (const d of layers('team/api'))
            await slowGet(b, 'team/api', d, 12 * MiB); })()
    ]);
    await sleep(5000);
    await Promise.all(layers('team/web').map(async (d) => await slowGet(b, 'team/web', d, 10 * MiB)));
    // One transfer half way: upstream stops sending after 20 MiB of each request for the JDK layer.
    const jdk = layers('base/jdk')[0];
    proxy.stall({ pathIncludes: jdk, ms: Infinity, afterBytes: 20 * MiB, times: Infinity });
    void rawRequest(b.url, `/v2/base/jdk/blobs/${jdk}`, { keepBody: false, timeoutMs: 600_000 }).catch(() => { });
    await sleep(4000);
    await screenshot(`${b.url}/`, out, { virtualTimeMs: 2500, width: 1200, height: 800 });
    process.stdout.write(`wrote ${out}\n`);
    await stopAll();
}
main().then(() => process.exit(0), (err) => { process.stderr.write(`${String(err?.stack ?? err)}\n`); void stopAll().finally(() => process.exit(1)); });
//# sourceMappingURL=status-page.js.map