// Option helpers shared by the commands, so that `--help` shows every option's default.
import { Option } from 'commander';
/** A repeatable option (`--peer A --peer B`); `shown` is what `--help` gives as its default. */
export function repeatable(flags, description, shown) {
    return new Option(flags, description).default([], shown).argParser((v, prev) => [...prev, v]);
}
//# sourceMappingURL=options.js.map