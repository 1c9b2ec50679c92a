import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findChallenge, parseChallenges } from '../../../src/upstream/challenge.js';
test('challenge: Docker Hub style Bearer with realm, service and scope', () => {
    const c = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"');
    assert.equal(c.length, 1);
    assert.equal(c[0].scheme, 'bearer');
    assert.deepEqual(c[0].params, { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' });
});
test('challenge: scheme and parameter names are case-insensitive', () => {
    const c = parseChallenges('BEARER Realm="http://t/token", SERVICE=reg');
    assert.equal(c.length, 1);
    assert.equal(c[0].scheme, 'bearer');
    assert.equal(c[0].params.realm, 'http://t/token');
    assert.equal(c[0].params.service, 'reg');
    assert.equal(findChallenge(parseChallenges('bAsIc realm="x"'), 'Basic')?.params.realm, 'x');
});
test('challenge: quoted strings keep commas, escaped quotes and backslashes', () => {
    const c = parseChallenges('Bearer realm="http://a/t?x=1,2",error="insufficient_scope",error_description="say \\"hi\\", then \\\\ go"');
    assert.equal(c.length, 1);
    assert.equal(c[0].params.realm, 'http://a/t?x=1,2');
    assert.equal(c[0].params.error, 'insufficient_scope');
    assert.equal(c[0].params.error_description, 'say "hi", then \\ go');
});
test('challenge: several challenges in one header and across header lines', () => {
    const c = parseChallenges('Basic realm="Registry Realm", Bearer realm="http://t/token",service="s",scope="repository:a/b:pull"');
    assert.deepEqual(c.map(x => x.scheme), ['basic', 'bearer']);
    assert.equal(c[0].params.realm, 'Registry Realm');
    assert.deepEqual(c[1].params, { realm: 'http://t/token', service: 's', scope: 'repository:a/b:pull' });
    const d = parseChallenges(['Basic realm="r1"', 'Bearer realm="r2"']);
    assert.deepEqual(d.map(x => [x.scheme, x.params.realm]), [['basic', 'r1'], ['bearer', 'r2']]);
});
test('challenge: unquoted tokens, spaces around "=", token68 and a bare scheme', () => {
    const c = parseChallenges('Bearer realm = http://t/token , service = reg.example');
    assert.equal(c[0].params.realm, 'http://t/token');
    assert.equal(c[0].params.service, 'reg.example');
    const n = parseChallenges('Negotiate YII+abc/==, Basic realm="x"');
    assert.equal(n[0].scheme, 'negotiate');
    assert.equal(n[0].token68, 'YII+abc/==');
    assert.equal(n[1].scheme, 'basic');
    assert.equal(n[1].params.realm, 'x');
    const bare = parseChallenges('Basic');
    assert.deepEqual(bare, [{ scheme: 'basic', params: {} }]);
});
test('challenge: empty and malformed headers give no usable challenge, never throw', () => {
    assert.deepEqual(parseChallenges(undefined), []);
    assert.deepEqual(parseChallenges(''), []);
    assert.deepEqual(parseChallenges(' , ,'), []);
    const c = parseChallenges('Bearer realm="unterminated');
    assert.equal(c[0].params.realm, 'unterminated');
    assert.equal(findChallenge(parseChallenges('=== ,"'), 'bearer'), undefined);
});
//# sourceMappingURL=challenge.test.js.map