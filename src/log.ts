import { pino, type Logger } from 'pino'

export type { Logger }

export interface LogInit {
  /** pino level name; default `info`. */
  level?: string
  /** Destination file descriptor; default 1 (stdout). */
  fd?: number
}

/**
 * JSON lines on stdout. Secrets never reach a log call: credentials and the office secret are
 * kept out of every object we log, and these paths are redacted as a second line of defence.
 */
export function createLogger (init: LogInit = {}): Logger {
  return pino({
    level: init.level ?? 'info',
    base: { name: 'layerd' },
    redact: { paths: ['password', 'secret', 'authorization', '*.password', '*.secret', '*.authorization', 'headers.authorization', 'credentials'], censor: '[redacted]' }
  }, pino.destination({ fd: init.fd ?? 1, sync: true }))
}

/** A logger that drops everything (unit tests). */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
