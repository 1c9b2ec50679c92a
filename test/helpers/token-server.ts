// A small Docker-registry token server (the "Bearer realm" of a docker-registry with auth.token).
//
// GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]  (optionally Basic auth)
// → 200 {"token","access_token","expires_in","issued_at"}: an RS256 JWT whose header carries
// x5c = [issuer certificate] (self-signed, made with openssl; the registry's rootcertbundle is the
// same certificate) and whose claims are iss, sub, aud=service, exp, nbf, iat, jti, access.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createSign, randomUUID, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeServer, listenLoopback } from './ports.js'
import { makeTempDir, removeTempDir, runOk, own, haveCommand, type CleanupScope } from './proc.js'

export interface TokenUser {
  password: string
  /** Granted 'push' as well as 'pull' (default false: pull only). */
  push?: boolean
}

export interface TokenServerOptions {
  service?: string
  issuer?: string
  /** Users allowed to log in with Basic credentials (default: pusher/pushpass with push, reader/readpass). */
  users?: Record<string, TokenUser>
  /**
   * What an anonymous request (no Authorization header) gets:
   * 'empty' (default) = a token with no access, like Docker Hub for a private repo (the registry
   * then answers 401 again); 'pull' = pull access; 'deny' = 401 from the token server.
   */
  anonymous?: 'empty' | 'pull' | 'deny'
  /** Token lifetime in seconds (default 300). */
  ttlSeconds?: number
  cleanup?: CleanupScope
}

export interface TokenRequestLog {
  account: string | undefined
  scopes: string[]
  status: number
  granted: Array<{ name: string, actions: string[] }>
}

export interface TokenServer {
  /** Realm URL, e.g. http://127.0.0.1:PORT/token */
  realm: string
  port: number
  service: string
  issuer: string
  /** PEM path of the issuer certificate (the registry's rootcertbundle). */
  certPath: string
  users: Record<string, TokenUser>
  /** Number of token requests served (any outcome). */
  requestCount(): number
  requests(): TokenRequestLog[]
  reset(): void
  stop(): Promise<void>
}

export const DEFAULT_TOKEN_USERS: Record<string, TokenUser> = {
  pusher: { password: 'pushpass', push: true },
  reader: { password: 'readpass' },
}

function b64url (b: Buffer | string): string {
  return Buffer.from(b).toString('base64url')
}

export async function startTokenServer (opts: TokenServerOptions = {}): Promise<TokenServer> {
  const service = opts.service ?? 'layerd-test-registry'
  const issuer = opts.issuer ?? 'layerd-test-issuer'
  const users = opts.users ?? DEFAULT_TOKEN_USERS
  const anonymous = opts.anonymous ?? 'empty'
  const ttl = opts.ttlSeconds ?? 300
  if (!haveCommand('openssl')) throw new Error('openssl is required for the token server (Debian: apt-get install openssl)')

  const dir = makeTempDir('token')
  const keyPath = join(dir, 'key.pem')
  const certPath = join(dir, 'cert.pem')
  await runOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath,
    '-days', '3', '-subj', `/CN=${issuer}`], { timeoutMs: 30_000 })
  const keyPem = readFileSync(keyPath, 'utf8')
  const certDerB64 = new X509Certificate(readFileSync(certPath)).raw.toString('base64')

  let log: TokenRequestLog[] = []
  let count = 0

  const sign = (claims: Record<string, unknown>): string => {
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDerB64] }
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
    const sig = createSign('RSA-SHA256').update(input).sign(keyPem)
    return `${input}.${b64url(sig)}`
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    count++
    const url = new URL(req.url ?? '/', 'http://x')
    const scopes = url.searchParams.getAll('scope').flatMap(s => s.split(' ')).filter(s => s !== '')
    const send = (status: number, body: unknown, account: string | undefined, granted: TokenRequestLog['granted']): void => {
      log.push({ account, scopes, status, granted })
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }
    if (url.pathname !== '/token') { send(404, { error: 'not found' }, undefined, []); return }

    let account: string | undefined
    let allowed: string[]
    const auth = req.headers.authorization
    if (auth !== undefined && auth.startsWith('Basic ')) {
      const dec = Buffer.from(auth.slice(6), 'base64').toString('utf8')
      const i = dec.indexOf(':')
      const user = i >= 0 ? dec.slice(0, i) : dec
      const pass = i >= 0 ? dec.slice(i + 1) : ''
      const u = users[user]
      if (u === undefined || u.password !== pass) {
        res.setHeader('www-authenticate', 'Basic realm="layerd-test-token"')
        send(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }, user, [])
        return
      }
      account = user
      allowed = u.push === true ? ['pull', 'push'] : ['pull']
    } else {
      if (anonymous === 'deny') {
        res.setHeader('www-authenticate', 'Basic realm="layerd-test-token"')
        send(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, undefined, [])
        return
      }
      allowed = anonymous === 'pull' ? ['pull'] : []
    }

    const granted: TokenRequestLog['granted'] = []
    for (const scope of scopes) {
      // repository:NAME:ACTIONS   (NAME may itself contain ':' only with a port, which repos do not)
      const parts = scope.split(':')
      if (parts.length < 3 || parts[0] !== 'repository') continue
      const actions = (parts[parts.length - 1] ?? '').split(',').filter(a => allowed.includes(a))
      const name = parts.slice(1, -1).join(':')
      if (actions.length > 0) granted.push({ name, actions })
    }
    const now = Math.floor(Date.now() / 1000)
    const token = sign({
      iss: issuer,
      sub: account ?? '',
      aud: service,
      exp: now + ttl,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: granted.map(g => ({ type: 'repository', name: g.name, actions: g.actions })),
    })
    send(200, { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() }, account, granted)
  }

  const server = createServer(handle)
  const port = await listenLoopback(server)

  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    unregister()
    await closeServer(server)
    removeTempDir(dir)
  }
  const unregister = own(stop, opts.cleanup)

  return {
    realm: `http://127.0.0.1:${port}/token`,
    port,
    service,
    issuer,
    certPath,
    users,
    requestCount: () => count,
    requests: () => log,
    reset: () => { log = []; count = 0 },
    stop,
  }
}
