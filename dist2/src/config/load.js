import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../errors.js';
import { configSchema } from './schema.js';
/** Validate a config object; every problem is reported as `key: what is wrong`. */
export function validateConfig(raw, source = 'config') {
    const r = configSchema.safeParse(raw ?? {});
    if (r.success)
        return r.data;
    const lines = r.error.issues.map(i => `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new ConfigError(`invalid ${source}: ${lines.join('; ')}`);
}
/** Read and validate a YAML config file (built-in defaults when `file` is undefined). */
export async function loadConfigFile(file) {
    return await loadConfig(file, () => { });
}
/** Apply `--flag` overrides (already parsed by the CLI) on top of a file's raw object, then validate. */
export async function loadConfig(file, overrides) {
    let raw = {};
    if (file !== undefined) {
        let text;
        try {
            text = await readFile(file, 'utf8');
        }
        catch (err) {
            throw new ConfigError(`cannot read config file ${file}: ${errorMessage(err)}`);
        }
        try {
            raw = parseYaml(text) ?? {};
        }
        catch (err) {
            throw new ConfigError(`config file ${file} is not valid YAML: ${errorMessage(err).split('\n')[0]}`);
        }
        if (typeof raw !== 'object' || Array.isArray(raw))
            throw new ConfigError(`config file ${file} must hold a mapping of options`);
    }
    overrides(raw);
    return validateConfig(raw, file === undefined ? 'options' : `config (${file} and flags)`);
}
//# sourceMappingURL=load.js.map