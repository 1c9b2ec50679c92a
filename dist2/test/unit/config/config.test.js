import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { parse } from 'yaml';
import { loadConfig, loadConfigFile, validateConfig } from '../../../src/config/load.js';
import { resolveRegistries } from '../../../src/config/registries.js';
import { tempDir } from '../support/fixtures.js';
const YAML = new URL('../../../../config/layerd.yaml', import.meta.url);
/** The documented file, with every `# key: value` line uncommented. */
async function documentedDefaults() {
    const text = await readFile(YAML, 'utf8');
    const lines = text.split('\n')
        // Option lines are `# key: value`, nested ones `#   key: value`; keys are camelCase, prose is not.
        .filter(l => /^# ( {2})*[a-z][a-zA-Z0-9]*:/.test(l))
        .map(l => l.replace(/^# ?/, ''))
        .filter(l => !/^\s*(dataDir|secretFile|url|username|passwordFile|shareable|caFile|docker\.io|registry\.example\.com|upstreams):/.test(l));
    return parse(lines.join('\n'));
}
test('config/layerd.yaml documents exactly the built-in defaults', async () => {
    const documented = validateConfig(await documentedDefaults());
    const builtIn = validateConfig({});
    assert.deepEqual(documented, builtIn);
});
test('every option of the schema appears in config/layerd.yaml', async () => {
    const text = await readFile(YAML, 'utf8');
    const walk = (o, prefix) => Object.entries(o).flatMap(([k, v]) => v !== null && typeof v === 'object' && !Array.isArray(v) ? walk(v, [...prefix, k]) : [k]);
    for (const key of walk(validateConfig({}), []))
        assert.match(text, new RegExp(`#\\s+(# )?${key}:`), key);
    assert.match(text, /dataDir:/);
    assert.match(text, /secretFile:/);
    for (const key of ['caFile', 'proxy', 'noProxy'])
        assert.match(text, new RegExp(`# ${key}:|#\\s+(# )?${key}:`), key);
});
test('bad values name the key and the problem', () => {
    const cases = [
        [{ listen: 'nope' }, /listen: expected HOST:PORT/],
        [{ store: { maxBytes: 'lots' } }, /store\.maxBytes: expected a size/],
        [{ store: { partialTtl: 'soon' } }, /store\.partialTtl: expected a duration/],
        [{ upstreams: { 'docker.io': { url: 'ftp://x' } } }, /upstreams\.docker\.io\.url/],
        [{ fetch: { maxUpstreamStreams: 0 } }, /fetch\.maxUpstreamStreams/],
        [{ unknownKey: 1 }, /unrecognized key|unknownKey/i],
        [{ store: { pinned: ['sha256:xyz'] } }, /store\.pinned\.0: expected sha256/]
    ];
    for (const [raw, re] of cases)
        assert.throws(() => validateConfig(raw), (err) => err.code === 'CONFIG_INVALID' && re.test(err.message), JSON.stringify(raw));
});
test('units are parsed', () => {
    const c = validateConfig({ store: { maxBytes: '2GiB', partialTtl: '2h' }, fetch: { segmentBytes: '1MiB' } });
    assert.equal(c.store.maxBytes, 2 * 1024 ** 3);
    assert.equal(c.store.partialTtl, 2 * 3600_000);
    assert.equal(c.fetch.segmentBytes, 1024 * 1024);
});
test('flags override the file; unreadable or invalid files are clear errors', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const f = join(dir, 'c.yaml');
    await writeFile(f, 'listen: 127.0.0.1:6000\ndefaultRegistry: upstream.test\n');
    const c = await loadConfig(f, raw => { raw.listen = '127.0.0.1:7000'; });
    assert.equal(c.listen, '127.0.0.1:7000');
    assert.equal(c.defaultRegistry, 'upstream.test');
    await assert.rejects(loadConfigFile(join(dir, 'missing.yaml')), /cannot read config file/);
    await writeFile(f, 'listen: [unclosed\n');
    await assert.rejects(loadConfigFile(f), /not valid YAML/);
    await writeFile(f, '- a list\n');
    await assert.rejects(loadConfigFile(f), /must hold a mapping/);
});
test('upstreams.NAME.caFile: read at start; unreadable or not PEM is a ConfigError naming the key', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const good = join(dir, 'ca.pem');
    await writeFile(good, rootCertificates[0]);
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    const text = join(dir, 'text.pem');
    await writeFile(text, 'hello\n');
    const config = (caFile) => validateConfig({ upstreams: { 'corp.test': { url: 'https://corp.test', caFile } } });
    const regs = await resolveRegistries(config(good));
    assert.equal(regs.find(r => r.name === 'corp.test')?.ca, rootCertificates[0]);
    assert.equal(regs.find(r => r.name === 'docker.io')?.ca, undefined);
    for (const [file, re] of [[join(dir, 'missing.pem'), /cannot read .*ENOENT/], [text, /holds no PEM certificate/], [garbage, /not a valid PEM CA bundle/]]) {
        await assert.rejects(resolveRegistries(config(file)), (err) => err.code === 'CONFIG_INVALID' && err.message.startsWith('upstreams.corp.test.caFile: ') && re.test(err.message), file);
    }
});
test('upstream.rate takes a size; proxy and noProxy are optional', () => {
    const c = validateConfig({ upstream: { rate: '10MiB', proxy: 'http://proxy:3128', noProxy: ['localhost'] } });
    assert.equal(c.upstream.rate, 10 * 1024 * 1024);
    assert.equal(c.upstream.proxy, 'http://proxy:3128');
    assert.equal(validateConfig({}).upstream.rate, 0);
    assert.throws(() => validateConfig({ upstream: { rate: 'fast' } }), /upstream\.rate: expected a size/);
});
//# sourceMappingURL=config.test.js.map