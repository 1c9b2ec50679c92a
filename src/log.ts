import { isatty } from 'node:tty'
import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

/** `json`: one JSON object a line; `pretty`: readable lines; `auto`: pretty on a terminal, else JSON. */
export type LogFormat = 'auto' | 'json' | 'pretty'

export interface LogInit {
  /** pino level name; default `info`. */
  level?: string
  /** Destination file descriptor; default 1 (stdout). */
  fd?: number
  /** Default `auto`. */
  format?: LogFormat
}

/**
 * Log lines on stdout: JSON (what supervisors and tests parse), or readable lines for a person at a
 * terminal. Secrets never reach a log call: credentials and the office secret are kept out of
 * every object we log, and these paths are redacted as a second line of defence.
 */
export function createLogger (init: LogInit = {}): Logger {
  const fd = init.fd ?? 1
  const format = init.format ?? 'auto'
  const options = {
    level: init.level ?? 'info',
    base: { name: 'layerd' },
    redact: { paths: ['password', 'secret', 'authorization', '*.password', '*.secret', '*.authorization', 'headers.authorization', 'credentials'], censor: '[redacted]' }
  }
  if (format === 'pretty' || (format === 'auto' && isatty(fd))) {
    // In this thread (no transport worker): a line is out before the process exits.
    return pino(options, pretty({ destination: fd, sync: true, colorize: isatty(fd), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: true }))
  }
  return pino(options, pino.destination({ fd, sync: true }))
}

/** A logger that drops everything (unit tests). */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
