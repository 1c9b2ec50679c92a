// Parser for `WWW-Authenticate` (RFC 9110 §11.6.1): one or more challenges, each a scheme followed
// either by a token68 or by comma-separated `name=value` parameters whose values may be tokens or
// quoted strings (which may contain commas and backslash-escaped quotes). Lenient: garbage is
// skipped, never thrown on; an unusable header simply yields fewer challenges.
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^([A-Za-z0-9\-._~+/]+=*)[ \t]*(?:,|$)/;
/** Parse one or several `WWW-Authenticate` header values into challenges, in order. */
export function parseChallenges(header) {
    if (header == null)
        return [];
    if (Array.isArray(header))
        return header.flatMap(h => parseChallenges(h));
    const s = header;
    const n = s.length;
    let i = 0;
    const out = [];
    const skipWs = () => { while (i < n && (s[i] === ' ' || s[i] === '\t'))
        i++; };
    const skipWsAndCommas = () => { while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === ','))
        i++; };
    const readToken = () => {
        const start = i;
        while (i < n && TCHAR.test(s[i]))
            i++;
        return s.slice(start, i);
    };
    // Unquoted values should be tokens; be lenient and take anything up to whitespace or a comma
    // (some servers send `realm=https://host/token` unquoted).
    const readBare = () => {
        const start = i;
        while (i < n && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t')
            i++;
        return s.slice(start, i);
    };
    const readQuoted = () => {
        // s[i] === '"'
        i++;
        let value = '';
        while (i < n) {
            const c = s[i];
            if (c === '\\' && i + 1 < n) {
                value += s[i + 1];
                i += 2;
                continue;
            }
            if (c === '"') {
                i++;
                return value;
            }
            value += c;
            i++;
        }
        return value; // unterminated: keep what we have
    };
    const skipToComma = () => {
        while (i < n && s[i] !== ',') {
            if (s[i] === '"')
                readQuoted();
            else
                i++;
        }
    };
    /** True when the text at i (after optional whitespace) is `token =`, i.e. a parameter. */
    const paramAhead = () => {
        const save = i;
        skipWs();
        const name = readToken();
        skipWs();
        const isParam = name !== '' && s[i] === '=';
        i = save;
        return isParam;
    };
    while (i < n) {
        skipWsAndCommas();
        if (i >= n)
            break;
        const scheme = readToken();
        if (scheme === '') {
            skipToComma();
            continue;
        }
        const challenge = { scheme: scheme.toLowerCase(), params: {} };
        out.push(challenge);
        skipWs();
        if (i >= n)
            break;
        if (s[i] === ',') {
            // Either an empty challenge followed by another one, or (tolerated) params after a comma.
            i++;
            if (!paramAhead())
                continue;
        }
        else {
            const m = TOKEN68.exec(s.slice(i));
            if (m != null && !paramAheadWithValue(s, i)) {
                challenge.token68 = m[1];
                i += m[1].length;
                continue;
            }
        }
        // Parameters until something that is not `name=value` (the start of the next challenge).
        for (;;) {
            skipWs();
            const save = i;
            const name = readToken();
            skipWs();
            if (name === '' || s[i] !== '=') {
                i = save;
                break;
            }
            i++;
            skipWs();
            const value = s[i] === '"' ? readQuoted() : readBare();
            challenge.params[name.toLowerCase()] = value;
            skipWs();
            if (i >= n)
                break;
            if (s[i] !== ',') {
                skipToComma();
            }
            if (i >= n)
                break;
            // s[i] === ','
            i++;
            // Skip empty list elements, then decide whether a parameter or a new challenge follows.
            skipWsAndCommas();
            if (!paramAhead())
                break;
        }
    }
    return out;
}
/** `name=value` where value is non-empty (tells `realm=x` apart from a token68 such as `abc=`). */
function paramAheadWithValue(s, start) {
    const m = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=[ \t]*([^\s,=]|")/.exec(s.slice(start));
    return m != null;
}
/** Pick the first challenge with the given (case-insensitive) scheme. */
export function findChallenge(challenges, scheme) {
    const want = scheme.toLowerCase();
    return challenges.find(c => c.scheme === want);
}
//# sourceMappingURL=challenge.js.map