// config/grafana-dashboard.json must not drift from what the agent exports: every metric a panel
// queries exists in src/metrics/metrics.ts (or prom-client's default process metrics, with our
// prefix), every layerd metric is on some panel, and the file is an importable Grafana dashboard.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { createMetrics } from '../../../src/metrics/metrics.js';
const FILE = new URL('../../../../config/grafana-dashboard.json', import.meta.url);
function allPanels(list) {
    return list.flatMap(p => [p, ...allPanels(p.panels ?? [])]);
}
async function dashboard() {
    return JSON.parse(await readFile(FILE, 'utf8'));
}
function queries(d) {
    const exprs = allPanels(d.panels).flatMap(p => (p.targets ?? []).map(t => t.expr));
    for (const v of d.templating?.list ?? [])
        exprs.push(typeof v.query === 'string' ? v.query : v.query?.query ?? '');
    return exprs;
}
const metricNames = (expr) => [...expr.matchAll(/\blayerd_[a-zA-Z0-9_]+/g)].map(m => m[0]);
test('the dashboard takes a Prometheus datasource input and every query uses it', async () => {
    const d = await dashboard();
    assert.deepEqual(d.__inputs.map((i) => [i.name, i.type, i.pluginId]), [['DS_PROMETHEUS', 'datasource', 'prometheus']]);
    assert.equal(typeof d.title, 'string');
    assert.equal(typeof d.uid, 'string');
    const panels = allPanels(d.panels);
    assert.equal(new Set(panels.map(p => p.id)).size, panels.length, 'panel ids are unique');
    for (const p of panels) {
        assert.ok(p.gridPos !== undefined, `${p.title}: gridPos`);
        if (p.type === 'row')
            continue;
        assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `${p.title}: datasource`);
        assert.ok((p.targets ?? []).length > 0, `${p.title}: has queries`);
        for (const t of p.targets ?? []) {
            assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', `${p.title}: target datasource`);
            assert.ok(metricNames(t.expr).length > 0, `${p.title}: queries a layerd metric: ${t.expr}`);
        }
    }
});
test('every metric the dashboard queries is exported by the agent, and every layerd metric has a panel', async () => {
    const exported = new Set(createMetrics().registry.getMetricsAsArray().map(m => m.name));
    const own = createMetrics({ defaultMetrics: false }).registry.getMetricsAsArray().map(m => m.name);
    const used = new Set(queries(await dashboard()).flatMap(metricNames));
    assert.ok(used.size > 0);
    for (const name of used)
        assert.ok(exported.has(name), `${name} is queried but not exported (src/metrics/metrics.ts)`);
    for (const name of own)
        assert.ok(used.has(name), `${name} is exported but on no panel of config/grafana-dashboard.json`);
});
//# sourceMappingURL=grafana-dashboard.test.js.map