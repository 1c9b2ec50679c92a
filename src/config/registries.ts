import { readFile } from 'node:fs/promises'
import { ConfigError } from '../errors.js'
import { DOCKER_HUB } from '../oci/reference.js'
import type { UpstreamRegistry } from '../upstream/types.js'
import type { LayerdConfig } from './schema.js'

export interface ResolvedRegistry extends UpstreamRegistry {
  /** Share blobs fetched with this registry's credentials with peers anyway. */
  shareable: boolean
}

/** The upstream registries of a config (Docker Hub built in), passwords read from their files. */
export async function resolveRegistries (config: LayerdConfig): Promise<ResolvedRegistry[]> {
  const out: ResolvedRegistry[] = []
  const entries: LayerdConfig['upstreams'] = { [DOCKER_HUB.name]: { url: DOCKER_HUB.url, shareable: false }, ...config.upstreams }
  for (const [name, u] of Object.entries(entries)) {
    let credentials
    if (u.username !== undefined && u.passwordFile !== undefined) {
      let password: string
      try { password = (await readFile(u.passwordFile, 'utf8')).replace(/\r?\n$/, '') } catch (err: any) {
        // The path is the user's; the content never appears anywhere.
        throw new ConfigError(`upstreams.${name}.passwordFile: cannot read ${u.passwordFile} (${err?.code ?? 'error'})`)
      }
      credentials = { username: u.username, password }
    }
    out.push({ name, url: u.url.replace(/\/+$/, ''), credentials, shareable: u.shareable })
  }
  return out
}

/** `HOST:PORT` or `[V6]:PORT` → host and port. */
export function parseListen (listen: string): { host: string, port: number } {
  const i = listen.lastIndexOf(':')
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1')
  const port = Number(listen.slice(i + 1))
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`listen: invalid port in ${listen}`)
  return { host, port }
}
