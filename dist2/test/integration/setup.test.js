// Issue 9, `layerd setup containerd|docker|podman` as a user runs it (`node bin/layerd.js setup ...`):
// what it writes into temp copies of each client's file (dry run, idempotence, users' content,
// backups, exit codes), and then real pulls by containerd (ctr --hosts-dir), dockerd (started with
// the daemon.json setup wrote) and podman (with the registries.conf setup wrote) through a real
// agent. Every pulled blob is checked against its digest; the counting proxy in front of the
// registry must see only the agent (User-Agent layerd/…) and /metrics must show the agent served
// every layer.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { makeTempDir, stopAll } from '../helpers/proc.js';
import { startRegistry } from '../helpers/registry.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startProxy } from '../helpers/proxy.js';
import { startAgent, runLayerd } from '../helpers/agent.js';
import { getMetrics, metricValue, writeConfig } from '../helpers/agent-http.js';
import { startContainerd } from '../helpers/containerd.js';
import { startDockerd } from '../helpers/dockerd.js';
import { makePodman } from '../helpers/podman.js';
after(stopAll);
const MiB = 1 << 20;
const toml = (path) => JSON.parse(JSON.stringify(parseToml(readFileSync(path, 'utf8'))));
const out = (r) => r.stdout.split('\n').filter(l => l.trim() !== '');
/** Exit code, one line on stderr that contains every `mentions`, no stack trace. */
function assertFails(r, code, ...mentions) {
    assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter(l => l.trim() !== '');
    assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
    for (const m of mentions)
        assert.ok(r.stderr.includes(m), `${JSON.stringify(m)} in: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}
describe('layerd setup: the files it writes', () => {
    const work = makeTempDir('it-setup-files');
    // The agent's config: one registry from the file, one from a flag, listening on every address.
    const config = writeConfig(join(work, 'layerd.yaml'), { listen: '0.0.0.0:5999', upstreams: { 'registry.example.com': { url: 'https://registry.example.com/' } } });
    const agentArgs = ['--config', config, '--upstream', 'ghcr.io=https://ghcr.io'];
    test('containerd: dry run writes nothing; then one hosts.toml per registry of the config; a second run is unchanged', async () => {
        const dir = join(work, 'certs.d');
        const dry = await runLayerd(['setup', 'containerd', '--hosts-dir', dir, ...agentArgs, '--dry-run']);
        assert.equal(dry.code, 0, dry.stderr);
        assert.match(dry.stdout, new RegExp(`would create ${dir}/docker.io/hosts.toml`));
        assert.match(dry.stdout, /\[host\."http:\/\/127\.0\.0\.1:5999"\]/, 'the content is shown');
        assert.ok(!existsSync(dir), 'dry run created nothing');
        const r = await runLayerd(['setup', 'containerd', '--hosts-dir', dir, ...agentArgs]);
        assert.equal(r.code, 0, r.stderr);
        const servers = { 'docker.io': 'https://registry-1.docker.io', 'registry.example.com': 'https://registry.example.com', 'ghcr.io': 'https://ghcr.io' };
        for (const [name, server] of Object.entries(servers)) {
            const file = join(dir, name, 'hosts.toml');
            assert.ok(out(r).includes(`created ${file}`), r.stdout);
            const doc = toml(file);
            assert.equal(doc.server, server);
            // The config listens on 0.0.0.0: clients on this machine dial loopback.
            assert.deepEqual(doc.host, { 'http://127.0.0.1:5999': { capabilities: ['pull', 'resolve'] } });
        }
        const again = await runLayerd(['setup', 'containerd', '--hosts-dir', dir, ...agentArgs]);
        assert.equal(again.code, 0, again.stderr);
        for (const name of Object.keys(servers))
            assert.ok(out(again).includes(`unchanged ${join(dir, name, 'hosts.toml')}`), again.stdout);
        assert.deepEqual(readdirSync(join(dir, 'docker.io')), ['hosts.toml'], 'no backup when nothing changed');
        // --registry narrows it; --listen overrides the config.
        const one = await runLayerd(['setup', 'containerd', '--hosts-dir', join(work, 'one'), ...agentArgs, '--registry', 'ghcr.io', '--listen', '127.0.0.1:6000']);
        assert.equal(one.code, 0, one.stderr);
        assert.deepEqual(readdirSync(join(work, 'one')), ['ghcr.io']);
        assert.deepEqual(Object.keys(toml(join(work, 'one', 'ghcr.io', 'hosts.toml')).host), ['http://127.0.0.1:6000']);
    });
    test('containerd: an existing hosts.toml keeps its content, gets a backup, and our host table once, first', async () => {
        const dir = join(work, 'certs-existing');
        const file = join(dir, 'docker.io', 'hosts.toml');
        const before = '# office cache\nserver = "https://cache.internal"\n\n[host."https://cache.internal:5000"]\n  capabilities = ["pull"]\n';
        mkdirSync(join(dir, 'docker.io'), { recursive: true });
        writeFileSync(file, before);
        const r = await runLayerd(['setup', 'containerd', '--hosts-dir', dir, '--registry', 'docker.io']);
        assert.equal(r.code, 0, r.stderr);
        const m = new RegExp(`^updated ${file} \\(backup: (\\S+)\\)$`, 'm').exec(r.stdout);
        assert.ok(m !== null, r.stdout);
        assert.equal(readFileSync(m[1], 'utf8'), before, 'the backup holds the old file');
        const text = readFileSync(file, 'utf8');
        assert.ok(text.includes('# office cache'), 'comments kept');
        const doc = toml(file);
        assert.equal(doc.server, 'https://cache.internal');
        assert.deepEqual(Object.keys(doc.host), ['http://127.0.0.1:5050', 'https://cache.internal:5000']);
        const again = await runLayerd(['setup', 'containerd', '--hosts-dir', dir, '--registry', 'docker.io']);
        assert.ok(out(again).includes(`unchanged ${file}`), again.stdout);
        assert.equal(readFileSync(file, 'utf8'), text);
    });
    test('docker: created, then every other key kept with a backup, idempotent, says dockerd must restart and that only Docker Hub is mirrored', async () => {
        const file = join(work, 'daemon.json');
        const dry = await runLayerd(['setup', 'docker', '--daemon-json', file, '--dry-run']);
        assert.equal(dry.code, 0, dry.stderr);
        assert.ok(!existsSync(file));
        const r = await runLayerd(['setup', 'docker', '--daemon-json', file, '--listen', '127.0.0.1:5051']);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(out(r).includes(`created ${file}`), r.stdout);
        assert.match(r.stdout, /restart/);
        assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { 'registry-mirrors': ['http://127.0.0.1:5051'] });
        const theirs = { 'log-level': 'warn', 'registry-mirrors': ['https://mirror.gcr.io'], 'data-root': '/srv/docker', 'default-address-pools': [{ base: '10.10.0.0/16', size: 24 }] };
        writeFileSync(file, JSON.stringify(theirs, null, 4));
        const u = await runLayerd(['setup', 'docker', '--daemon-json', file, ...agentArgs, '--listen', '127.0.0.1:5051']);
        assert.equal(u.code, 0, u.stderr);
        const m = new RegExp(`^updated ${file} \\(backup: (\\S+)\\)$`, 'm').exec(u.stdout);
        assert.ok(m !== null, u.stdout);
        assert.deepEqual(JSON.parse(readFileSync(m[1], 'utf8')), theirs);
        assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { ...theirs, 'registry-mirrors': ['http://127.0.0.1:5051', 'https://mirror.gcr.io'] });
        assert.match(u.stdout, /only for Docker Hub.*ghcr\.io/, 'the other registries are named');
        const again = await runLayerd(['setup', 'docker', '--daemon-json', file, '--listen', '127.0.0.1:5051']);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(out(again), [`unchanged ${file}`], 'nothing changed, no restart needed');
    });
    test('podman: registries.conf gets the default registry with the agent as mirror; existing entries keep theirs; idempotent', async () => {
        const file = join(work, 'registries.conf');
        writeFileSync(file, 'unqualified-search-registries = ["docker.io"]\n\n[[registry]]\nprefix = "docker.io"\nlocation = "registry-1.docker.io"\n\n[[registry.mirror]]\nlocation = "cache.internal:5000"\n');
        const before = readFileSync(file, 'utf8');
        const dry = await runLayerd(['setup', 'podman', '--registries-conf', file, '--dry-run']);
        assert.equal(dry.code, 0, dry.stderr);
        assert.equal(readFileSync(file, 'utf8'), before, 'dry run changed nothing');
        const r = await runLayerd(['setup', 'podman', '--registries-conf', file, ...agentArgs]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^updated ${file} \\(backup: \\S+\\)$`, 'm'));
        assert.match(r.stdout, /not mirrored for podman: registry\.example\.com, ghcr\.io/, 'registries it cannot serve podman are named');
        const doc = toml(file);
        assert.deepEqual(doc['unqualified-search-registries'], ['docker.io']);
        assert.equal(doc.registry.length, 1);
        assert.deepEqual(doc.registry[0].mirror, [{ location: '127.0.0.1:5999', insecure: true }, { location: 'cache.internal:5000' }]);
        const again = await runLayerd(['setup', 'podman', '--registries-conf', file, ...agentArgs]);
        assert.ok(out(again).includes(`unchanged ${file}`), again.stdout);
    });
    test('bad input: one line naming the option or file; exit 2 for usage and config, 1 for files', async () => {
        const hosts = join(work, 'bad-certs.d');
        assertFails(await runLayerd(['setup', 'containerd', '--hosts-dir', hosts, '--listen', '127.0.0.1']), 2, '--listen', '127.0.0.1');
        assertFails(await runLayerd(['setup', 'containerd', '--hosts-dir', hosts, '--listen', 'localhost:99999']), 2, '--listen');
        assertFails(await runLayerd(['setup', 'containerd', '--hosts-dir', hosts, '--registry', 'quay.io']), 2, '--registry quay.io', '--upstream quay.io=');
        assertFails(await runLayerd(['setup', 'containerd', '--hosts-dir', hosts, '--upstream', 'nonsense']), 2, '--upstream');
        assertFails(await runLayerd(['setup', 'containerd', '--config', join(work, 'missing.yaml')]), 2, 'missing.yaml');
        assertFails(await runLayerd(['setup', 'docker', '--daemon-json', join(work, 'x.json'), ...agentArgs, '--registry', 'ghcr.io']), 2, 'Docker Hub');
        assertFails(await runLayerd(['setup', 'docker', '--daemon-json', join(work, 'x.json'), ...agentArgs, '--default-registry', 'ghcr.io']), 2, 'default-registry docker.io');
        assertFails(await runLayerd(['setup', 'podman', '--registries-conf', join(work, 'x.conf'), ...agentArgs, '--registry', 'ghcr.io']), 2, 'ghcr.io');
        const unknown = await runLayerd(['setup', 'docker', '--frobnicate']);
        assert.equal(unknown.code, 2, unknown.stderr);
        assert.equal((await runLayerd(['setup'])).code, 2);
        assert.ok(!existsSync(hosts) && !existsSync(join(work, 'x.json')) && !existsSync(join(work, 'x.conf')), 'nothing written on errors');
        const broken = join(work, 'broken.json');
        writeFileSync(broken, '{ "registry-mirrors": [ ');
        assertFails(await runLayerd(['setup', 'docker', '--daemon-json', broken]), 1, broken, 'not valid JSON');
        assert.equal(readFileSync(broken, 'utf8'), '{ "registry-mirrors": [ ', 'left as it was');
        const brokenToml = join(work, 'broken-certs.d', 'docker.io', 'hosts.toml');
        mkdirSync(join(work, 'broken-certs.d', 'docker.io'), { recursive: true });
        writeFileSync(brokenToml, 'server = \n');
        assertFails(await runLayerd(['setup', 'containerd', '--hosts-dir', join(work, 'broken-certs.d')]), 1, brokenToml, 'line 1');
        // Unwritable: the hosts dir is under a regular file.
        const plain = join(work, 'plain-file');
        writeFileSync(plain, 'x');
        assertFails(await runLayerd(['setup', 'containerd', '--hosts-dir', join(plain, 'certs.d')]), 1, join(plain, 'certs.d', 'docker.io', 'hosts.toml'));
        assertFails(await runLayerd(['setup', 'podman', '--registries-conf', join(plain, 'registries.conf')]), 1, join(plain, 'registries.conf'));
    });
});
describe('layerd setup: real clients pull through the agent with what it wrote', () => {
    let reg;
    let proxy;
    let agent;
    let ctrImg;
    let dockImg;
    let podImg;
    const work = makeTempDir('it-setup-pulls');
    /** The agent's registries, given to `layerd setup` exactly as to the agent. */
    let upstreamArgs;
    before(async () => {
        reg = await startRegistry();
        [ctrImg, dockImg, podImg] = await Promise.all([
            buildImage({ name: 'setup/ctr', tag: 'v1', layers: [3 * MiB, 512 * 1024], seed: 'it-setup-ctr' }),
            buildImage({ name: 'library/layerd-setup-docker', tag: 'v1', layers: [3 * MiB, 256 * 1024], seed: 'it-setup-docker' }),
            buildImage({ name: 'library/layerd-setup-podman', tag: 'v1', layers: [3 * MiB, 256 * 1024], seed: 'it-setup-podman' }),
        ]);
        await pushImage(ctrImg, reg.host, 'setup/ctr', 'v1');
        await pushImage(dockImg, reg.host, 'library/layerd-setup-docker', 'v1');
        await pushImage(podImg, reg.host, 'library/layerd-setup-podman', 'v1');
        proxy = await startProxy(reg.url);
        // Docker Hub is the test's registry behind the counting proxy; so is a second registry name.
        agent = await startAgent({ upstreams: { 'docker.io': proxy.url, 'upstream.test': proxy.url }, defaultRegistry: 'docker.io', extraArgs: ['--no-p2p'] });
        upstreamArgs = ['--listen', agent.host, '--upstream', `docker.io=${proxy.url}`, '--upstream', `upstream.test=${proxy.url}`];
    });
    /** Run `pull` and check that every blob of `img` came through the agent, which alone asked upstream. */
    async function throughAgent(img, pull) {
        proxy.reset();
        const m0 = await getMetrics(agent.url);
        await pull();
        await proxy.idle();
        const m1 = await getMetrics(agent.url);
        const served = metricValue(m1, 'layerd_bytes_served_total', { kind: 'blob' }) - metricValue(m0, 'layerd_bytes_served_total', { kind: 'blob' });
        const layerBytes = img.layers.reduce((s, l) => s + l.size, 0);
        assert.ok(served >= layerBytes, `the agent served ${served} blob bytes, the layers are ${layerBytes}`);
        const strangers = proxy.requests().filter(r => !(r.userAgent ?? '').startsWith('layerd/'));
        assert.deepEqual(strangers.map(r => `${r.userAgent ?? '-'} ${r.method} ${r.url}`), [], 'only the agent talks to the registry');
        for (const l of img.layers)
            assert.ok(proxy.bytesFor(l.digest) >= l.size, `layer ${l.digest} fetched upstream by the agent`);
        const upstream = metricValue(m1, 'layerd_upstream_bytes_total') - metricValue(m0, 'layerd_upstream_bytes_total');
        assert.ok(Math.abs(upstream - proxy.totalBytes()) <= 16 * 1024, `agent's upstream bytes ${upstream} vs proxy ${proxy.totalBytes()}`);
    }
    test('containerd: ctr pull --hosts-dir with the hosts.toml setup wrote (a registry other than Docker Hub, ?ns=)', async (t) => {
        const hosts = join(work, 'certs.d');
        const s = await runLayerd(['setup', 'containerd', '--hosts-dir', hosts, ...upstreamArgs]);
        assert.equal(s.code, 0, s.stderr);
        const cd = await startContainerd({ cleanup: t });
        await throughAgent(ctrImg, async () => {
            const r = await cd.pull('upstream.test/setup/ctr:v1', { hostsDir: hosts, namespace: 'setup' });
            assert.ok(r.ok, r.stderr + r.stdout);
        });
        assert.deepEqual(await cd.verifyContent([ctrImg.topDigest, ctrImg.configDigest, ...ctrImg.layers.map(l => l.digest)], 'setup'), [], 'containerd holds the manifest, config and layers, each matching its digest');
        await cd.stop();
    });
    test('dockerd: started with the daemon.json setup wrote, pulls a Docker Hub name through the agent', async (t) => {
        let setupOut = '';
        const dd = await startDockerd({
            mirrors: [],
            cleanup: t,
            editConfig: async (daemonJson) => {
                const s = await runLayerd(['setup', 'docker', '--daemon-json', daemonJson, ...upstreamArgs]);
                assert.equal(s.code, 0, s.stderr);
                setupOut = s.stdout;
                assert.deepEqual(JSON.parse(readFileSync(daemonJson, 'utf8'))['registry-mirrors'], [agent.url]);
            },
        });
        assert.match(setupOut, /^updated .*daemon\.json \(backup: /m, 'the helper\'s daemon.json was updated, with a backup');
        await throughAgent(dockImg, async () => {
            const r = await dd.pull('layerd-setup-docker:v1');
            assert.ok(r.ok, r.stderr + r.stdout);
            assert.match(r.stdout, new RegExp(dockImg.topDigest));
        });
        const insp = await dd.docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'layerd-setup-docker:v1']);
        assert.equal(insp.code, 0, insp.stderr);
        assert.deepEqual(JSON.parse(insp.stdout.trim()), dockImg.layers.map(l => l.diffId), 'layers verify against the config diff_ids');
        await dd.stop();
    });
    test('podman: pulls a Docker Hub name with the registries.conf setup wrote; the image is in its store', async (t) => {
        const conf = join(work, 'registries.conf');
        const s = await runLayerd(['setup', 'podman', '--registries-conf', conf, ...upstreamArgs]);
        assert.equal(s.code, 0, s.stderr);
        assert.ok(out(s).includes(`created ${conf}`), s.stdout);
        const pm = makePodman({ registriesConf: conf, cleanup: t });
        const ref = 'docker.io/library/layerd-setup-podman:v1';
        await throughAgent(podImg, async () => {
            const r = await pm.pull(ref);
            assert.ok(r.ok, r.stderr + r.stdout);
        });
        assert.ok((await pm.images()).includes('docker.io/library/layerd-setup-podman:v1'), 'podman images lists it');
        const img = await pm.inspect(ref);
        assert.ok(img !== undefined, 'podman image inspect finds it');
        assert.equal(img.digest, podImg.topDigest, 'the manifest digest as pushed');
        assert.equal(`sha256:${img.id}`, podImg.configDigest, 'the image id is the config digest');
        assert.deepEqual(img.layers, podImg.layers.map(l => l.diffId), 'layers verify against the config diff_ids');
        await pm.stop();
    });
});
//# sourceMappingURL=setup.test.js.map