import { isatty } from 'node:tty';
import { pino } from 'pino';
import pretty from 'pino-pretty';
/**
 * Log lines on stdout: JSON (what supervisors and tests parse), or readable lines for a person at a
 * terminal. Secrets never reach a log call: credentials and the office secret are kept out of
 * every object we log, and these paths are redacted as a second line of defence.
 */
export function createLogger(init = {}) {
    const fd = init.fd ?? 1;
    const format = init.format ?? 'auto';
    const options = {
        level: init.level ?? 'info',
        base: { name: 'layerd' },
        redact: { paths: ['password', 'secret', 'authorization', '*.password', '*.secret', '*.authorization', 'headers.authorization', 'credentials'], censor: '[redacted]' }
    };
    if (format === 'pretty' || (format === 'auto' && isatty(fd))) {
        // In this thread (no transport worker): a line is out before the process exits.
        return pino(options, pretty({ destination: fd, sync: true, colorize: isatty(fd), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: true }));
    }
    return pino(options, pino.destination({ fd, sync: true }));
}
/** A logger that drops everything (unit tests). */
export function silentLogger() {
    return pino({ level: 'silent' });
}
//# sourceMappingURL=log.js.map