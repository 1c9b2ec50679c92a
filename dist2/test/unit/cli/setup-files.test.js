// The file edits behind `layerd setup`: what each client's file holds afterwards (parsed back, as
// the client would read it), that users' content survives, that a second run changes nothing,
// and that files we cannot edit safely are one-line errors naming the file.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'smol-toml';
import { agentAddress } from '../../../src/cli/setup.js';
import { editDaemonJson } from '../../../src/cli/setup/daemon-json.js';
import { applyChange, backupPath, readClientFile } from '../../../src/cli/setup/files.js';
import { editHostsToml } from '../../../src/cli/setup/hosts-toml.js';
import { editRegistriesConf } from '../../../src/cli/setup/registries-conf.js';
import { tempDir } from '../support/fixtures.js';
/** smol-toml's tables have a null prototype: compare plain objects. */
const toml = (text) => JSON.parse(JSON.stringify(parse(text)));
const MIRROR = 'http://127.0.0.1:5050';
const HUB = { server: 'https://registry-1.docker.io', mirror: MIRROR };
const clientFileError = (path) => (err) => err.code === 'CLIENT_FILE' && err.message.includes(path) && !err.message.includes('\n');
test('hosts.toml: a new file has the server and the agent as a [host] that pulls and resolves', () => {
    const doc = toml(editHostsToml(undefined, HUB, 'h.toml', 'docker.io'));
    assert.equal(doc.server, 'https://registry-1.docker.io');
    assert.deepEqual(doc.host, { [MIRROR]: { capabilities: ['pull', 'resolve'] } });
});
test('hosts.toml: an existing file keeps its server, hosts, comments and order; ours goes first, once', () => {
    const before = [
        '# our office mirror',
        'server = "https://registry.internal"',
        'ca = "/etc/ca.pem"',
        '',
        '# the old mirror',
        '[host."https://old-mirror:5000"]',
        '  capabilities = ["pull"]',
        '  [host."https://old-mirror:5000".header]',
        '    x-team = ["infra"]',
        '',
    ].join('\n');
    const after = editHostsToml(before, HUB, 'h.toml', 'docker.io');
    for (const line of before.split('\n'))
        assert.ok(after.includes(line), `kept: ${line}`);
    const doc = toml(after);
    assert.equal(doc.server, 'https://registry.internal', 'their server stays');
    assert.equal(doc.ca, '/etc/ca.pem');
    assert.deepEqual(Object.keys(doc.host), [MIRROR, 'https://old-mirror:5000'], 'containerd tries hosts in file order: ours first');
    assert.deepEqual(doc.host['https://old-mirror:5000'], { capabilities: ['pull'], header: { 'x-team': ['infra'] } });
    assert.equal(editHostsToml(after, HUB, 'h.toml', 'docker.io'), after, 'second run: unchanged');
    // A host table we wrote with a trailing slash is the same host.
    const slash = after.replace(`[host."${MIRROR}"]`, `[host."${MIRROR}/"]`);
    assert.equal(editHostsToml(slash, HUB, 'h.toml', 'docker.io'), slash);
});
test('hosts.toml: a file with only a server gets our table appended', () => {
    const after = editHostsToml('server = "https://ghcr.io"', { server: 'https://ghcr.io', mirror: MIRROR }, 'h.toml', 'ghcr.io');
    assert.deepEqual(toml(after), { server: 'https://ghcr.io', host: { [MIRROR]: { capabilities: ['pull', 'resolve'] } } });
});
test('hosts.toml: not TOML, or `host` not a table → CLIENT_FILE naming the file', () => {
    assert.throws(() => editHostsToml('server = [unclosed\n', HUB, '/etc/x/hosts.toml', 'docker.io'), clientFileError('/etc/x/hosts.toml'));
    assert.throws(() => editHostsToml('host = "nope"\n', HUB, '/etc/x/hosts.toml', 'docker.io'), clientFileError('/etc/x/hosts.toml'));
});
test('daemon.json: new, existing keys kept in place, our mirror first, idempotent', () => {
    assert.deepEqual(JSON.parse(editDaemonJson(undefined, MIRROR, 'd.json')), { 'registry-mirrors': [MIRROR] });
    assert.deepEqual(JSON.parse(editDaemonJson('  \n', MIRROR, 'd.json')), { 'registry-mirrors': [MIRROR] });
    const before = JSON.stringify({ 'log-level': 'warn', 'registry-mirrors': ['https://mirror.gcr.io'], 'data-root': '/srv/docker', features: { buildkit: true } });
    const after = editDaemonJson(before, MIRROR, 'd.json');
    const doc = JSON.parse(after);
    assert.deepEqual(Object.keys(doc), ['log-level', 'registry-mirrors', 'data-root', 'features']);
    assert.deepEqual(doc['registry-mirrors'], [MIRROR, 'https://mirror.gcr.io']);
    assert.deepEqual(doc.features, { buildkit: true });
    assert.equal(editDaemonJson(after, MIRROR, 'd.json'), after);
    assert.equal(editDaemonJson(after, MIRROR + '/', 'd.json'), after, 'a trailing slash is the same mirror');
});
test('daemon.json: not JSON, not an object, or registry-mirrors not a list → CLIENT_FILE', () => {
    for (const bad of ['{"a": ', '[1, 2]', '{"registry-mirrors": "http://x"}', '{"registry-mirrors": [1]}']) {
        assert.throws(() => editDaemonJson(bad, MIRROR, '/etc/docker/daemon.json'), clientFileError('/etc/docker/daemon.json'), bad);
    }
});
const HUB_ENTRY = { prefix: 'docker.io', location: 'registry-1.docker.io', insecure: false };
const AGENT = '127.0.0.1:5050';
test('registries.conf: a new file has the registry and the agent as its insecure mirror', () => {
    const doc = toml(editRegistriesConf(undefined, [HUB_ENTRY], AGENT, 'r.conf'));
    assert.deepEqual(doc.registry, [{ prefix: 'docker.io', location: 'registry-1.docker.io', mirror: [{ location: AGENT, insecure: true }] }]);
    const http = toml(editRegistriesConf(undefined, [{ prefix: 'docker.io', location: '127.0.0.1:5000', insecure: true }], AGENT, 'r.conf'));
    assert.equal(http.registry[0].insecure, true, 'a plain-HTTP upstream is marked insecure');
});
test('registries.conf: other content kept; an existing entry for the prefix gets only the mirror, first', () => {
    const before = [
        'unqualified-search-registries = ["docker.io", "quay.io"]',
        '',
        '[[registry]]',
        'prefix = "quay.io"',
        'location = "quay.io"',
        '',
        '# Docker Hub through the company cache',
        '[[registry]]',
        'prefix = "docker.io"',
        'location = "registry-1.docker.io"',
        '',
        '[[registry.mirror]]',
        'location = "cache.internal:5000"',
        '',
        '[[registry]]',
        'location = "ghcr.io"',
        '',
        '[aliases]',
        '"fedora" = "registry.fedoraproject.org/fedora"',
        '',
    ].join('\n');
    const after = editRegistriesConf(before, [HUB_ENTRY], AGENT, 'r.conf');
    for (const line of before.split('\n'))
        assert.ok(after.includes(line), `kept: ${line}`);
    const doc = toml(after);
    assert.deepEqual(doc['unqualified-search-registries'], ['docker.io', 'quay.io']);
    assert.equal(doc.registry.length, 3, 'no second [[registry]] for docker.io');
    assert.deepEqual(doc.registry[0], { prefix: 'quay.io', location: 'quay.io' });
    assert.deepEqual(doc.registry[1].mirror, [{ location: AGENT, insecure: true }, { location: 'cache.internal:5000' }]);
    assert.deepEqual(doc.registry[2], { location: 'ghcr.io' });
    assert.deepEqual(doc.aliases, { fedora: 'registry.fedoraproject.org/fedora' });
    assert.equal(editRegistriesConf(after, [HUB_ENTRY], AGENT, 'r.conf'), after, 'second run: unchanged');
    // An entry with no mirror yet, followed by a table: the mirror lands inside the entry.
    const bare = '[[registry]]\nprefix = "docker.io"\nlocation = "registry-1.docker.io"\n[aliases]\n"x" = "docker.io/library/x"\n';
    const bareDoc = toml(editRegistriesConf(bare, [HUB_ENTRY], AGENT, 'r.conf'));
    assert.deepEqual(bareDoc.registry[0].mirror, [{ location: AGENT, insecure: true }]);
    assert.deepEqual(bareDoc.aliases, { x: 'docker.io/library/x' });
    // No entry for the prefix: appended after everything.
    const other = toml(editRegistriesConf('[[registry]]\nlocation = "quay.io"\n', [HUB_ENTRY], AGENT, 'r.conf'));
    assert.deepEqual(other.registry.map((r) => r.prefix ?? r.location), ['quay.io', 'docker.io']);
});
test('registries.conf: what we cannot change safely, v1 files and bad TOML → CLIENT_FILE with the way out', () => {
    const inline = 'registry = [{ prefix = "docker.io", location = "registry-1.docker.io", mirror = [{ location = "m:5000" }] }]\n';
    assert.throws(() => editRegistriesConf(inline, [HUB_ENTRY], AGENT, '/etc/containers/registries.conf'), (err) => clientFileError('/etc/containers/registries.conf')(err) && /by hand/.test(err.message));
    assert.throws(() => editRegistriesConf('[registries.search]\nregistries = ["docker.io"]\n', [HUB_ENTRY], AGENT, '/r.conf'), (err) => clientFileError('/r.conf')(err) && /v1 format/.test(err.message));
    assert.throws(() => editRegistriesConf('[[registry]\n', [HUB_ENTRY], AGENT, '/r.conf'), (err) => clientFileError('/r.conf')(err) && /line 1/.test(err.message));
});
test('applyChange: dry run writes nothing; create makes the directories; update backs up first and keeps the mode', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const path = join(dir, 'a', 'b', 'hosts.toml');
    const dry = await applyChange({ path, before: undefined, after: 'x = 1\n' }, { dryRun: true });
    assert.match(dry, /^would create .*hosts\.toml:\n {4}x = 1$/);
    assert.deepEqual(await readdir(dir), [], 'dry run wrote nothing');
    assert.equal(await applyChange({ path, before: undefined, after: 'x = 1\n' }, { dryRun: false }), `created ${path}`);
    assert.equal(await readClientFile(path), 'x = 1\n');
    await chmod(path, 0o600);
    const now = new Date('2026-12-01T21:08:12.345Z');
    const line = await applyChange({ path, before: 'x = 1\n', after: 'x = 2\n' }, { dryRun: false, now });
    const backup = backupPath(path, now);
    assert.equal(backup, `${path}.layerd-backup-20261201T210812Z`);
    assert.equal(line, `updated ${path} (backup: ${backup})`);
    assert.equal(await readFile(backup, 'utf8'), 'x = 1\n');
    assert.equal(await readFile(path, 'utf8'), 'x = 2\n');
    assert.equal((await stat(path)).mode & 0o777, 0o600, 'the mode of the replaced file');
    // Same second again: a second backup, never overwriting the first.
    const again = await applyChange({ path, before: 'x = 2\n', after: 'x = 3\n' }, { dryRun: false, now });
    assert.ok(again.endsWith(`(backup: ${backup}-2)`), again);
    assert.equal(await readFile(backup, 'utf8'), 'x = 1\n');
    assert.equal(await applyChange({ path, before: 'x = 3\n', after: 'x = 3\n' }, { dryRun: false }), `unchanged ${path}`);
    assert.deepEqual((await readdir(join(dir, 'a', 'b'))).filter(f => f.endsWith('.tmp')), [], 'no temp file left');
});
test('applyChange / readClientFile: unwritable or unreadable paths → CLIENT_FILE naming the file', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const file = join(dir, 'plain-file');
    await writeFile(file, 'not a directory');
    const under = join(file, 'docker.io', 'hosts.toml');
    await assert.rejects(applyChange({ path: under, before: undefined, after: 'x = 1\n' }, { dryRun: false }), clientFileError(under));
    await assert.rejects(readClientFile(under), clientFileError(under));
    await mkdir(join(dir, 'adir'));
    await assert.rejects(readClientFile(join(dir, 'adir')), clientFileError(join(dir, 'adir')));
    assert.equal(await readClientFile(join(dir, 'missing')), undefined);
});
test('agentAddress: HOST:PORT as clients dial it; wildcards become loopback; bad forms are CONFIG_INVALID', () => {
    assert.equal(agentAddress('127.0.0.1:5050', '--listen'), '127.0.0.1:5050');
    assert.equal(agentAddress('layerd.lan:5050', '--listen'), 'layerd.lan:5050');
    assert.equal(agentAddress('0.0.0.0:5050', '--listen'), '127.0.0.1:5050');
    assert.equal(agentAddress('[::]:5050', '--listen'), '[::1]:5050');
    assert.equal(agentAddress('[fd00::7]:5050', '--listen'), '[fd00::7]:5050');
    for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '::1:5050', 'http://127.0.0.1:5050', ':5050', 'a b:1']) {
        assert.throws(() => agentAddress(bad, '--listen'), (err) => err.code === 'CONFIG_INVALID' && err.message.startsWith('--listen'), bad);
    }
});
//# sourceMappingURL=setup-files.test.js.map