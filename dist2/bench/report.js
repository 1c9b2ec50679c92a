// The bench's result table: one row per figure measure, each a value against a baseline measured
// in the same run (the ratio is what counts on a shared, noisy machine), with its target, the
// agents' CPU seconds per GB and peak RSS where they apply. Written to stdout and
// bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { f1, f2 } from './lib.js';
export class Report {
    rows = [];
    raw = {};
    t0 = performance.now();
    say(s) { console.log(`[bench ${((performance.now() - this.t0) / 1000).toFixed(0).padStart(4)}s] ${s}`); }
    add(r) {
        this.rows.push(r);
        const ratio = r.ratio !== undefined ? ` (ratio ${f2(r.ratio)}${r.target !== undefined ? `, target ${r.target}` : ''})` : '';
        const cpu = r.cpuPerGB !== undefined ? `, ${f1(r.cpuPerGB)} CPU s/GB` : '';
        this.say(`  → ${r.fig} ${r.what}: ${f1(r.value)} ${r.unit}${ratio}${cpu}`);
    }
    print(header, env, root, error) {
        const line = '-'.repeat(160);
        console.log(`\n${line}\n${header}, ${new Date().toISOString()}\n${line}`);
        console.log(`${'fig'.padEnd(4)}${'measure'.padEnd(72)}${'value'.padStart(10)} ${'unit'.padEnd(5)}${'baseline'.padStart(10)}${'ratio'.padStart(8)}  ${'target'.padEnd(11)}${'ok'.padEnd(4)}${'CPU s/GB'.padStart(9)}`);
        for (const r of this.rows) {
            const ok = r.ok === undefined ? '' : r.ok ? 'yes' : 'NO';
            console.log(`${r.fig.padEnd(4)}${r.what.slice(0, 71).padEnd(72)}${f1(r.value).padStart(10)} ${r.unit.padEnd(5)}${(r.baseline !== undefined ? f1(r.baseline) : '').padStart(10)}${(r.ratio !== undefined ? f2(r.ratio) : '').padStart(8)}  ${(r.target ?? '').padEnd(11)}${ok.padEnd(4)}${(r.cpuPerGB !== undefined ? f1(r.cpuPerGB) : '').padStart(9)}`);
            if (r.detail !== undefined)
                console.log(`    ${r.detail}`);
        }
        if (error !== undefined)
            console.log(`\nERROR: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
        console.log(line);
        const out = join(root, 'bench', 'results');
        mkdirSync(out, { recursive: true });
        writeFileSync(join(out, 'latest.json'), JSON.stringify({
            date: new Date().toISOString(),
            env,
            totalSecs: (performance.now() - this.t0) / 1000,
            rows: this.rows,
            raw: this.raw,
            ...(error !== undefined ? { error: String(error) } : {})
        }, null, 2) + '\n');
        console.log(`wrote ${join(out, 'latest.json')} (${((performance.now() - this.t0) / 1000).toFixed(0)} s total)`);
    }
}
export function must(cond, msg) { if (!cond)
    throw new Error(msg); }
export const hexOf = (digest) => digest.slice('sha256:'.length);
//# sourceMappingURL=report.js.map