/**
 * The onion services a node hosts (issue 17): `node.onion.services`. Each has a name; its Ed25519
 * identity seed lives in `<dataDir>/onion/services/<name>.key` (0600, in a 0700 folder) and its
 * settings beside it in `<name>.json`, so the address survives restarts and every service comes
 * back when the node starts again (as Tor's HiddenServiceDir). `stop` forgets the settings but
 * keeps the key: serving the same name again gives the same address.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { HsConfigError, HsNotFoundError } from './connect-errors.ts'
import { HostedService } from './host.ts'
import type { HostedServiceInit } from './host.ts'
import type { ServiceTarget } from './service-edge.ts'
import type { HostedServiceInfo, OnionServicesControl, ServeOptions } from './types.ts'

/** Services one node hosts at most (each keeps three introduction circuits). */
export const MAX_SERVICES = 16
const NAME = /^[A-Za-z0-9_-]{1,32}$/

/** What {@link OnionServices} needs to start a service: everything of {@link HostedServiceInit} but the service's own fields. */
export type ServiceContext = Omit<HostedServiceInit, 'name' | 'identitySeed' | 'target' | 'targetLabel' | 'authorizedClients' | 'pow'>

interface Saved {
  target: string
  authorizedClients: string[]
  pow: boolean
}

/** Parses `host:port` (an IP literal or `localhost`, port 1–65535). */
export function parseServiceTarget (target: string): { host: string, port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(target.trim())
  const port = Number(m?.[2])
  const host = m?.[1] ?? ''
  if (m == null || !Number.isInteger(port) || port < 1 || port > 65535 || (isIP(host) === 0 && host !== 'localhost')) {
    throw new HsConfigError(`target "${target}" is not HOST:PORT with an IP address or localhost (e.g. 127.0.0.1:8080)`)
  }
  return { host, port }
}

/** The hosted services; see the module header. */
export class OnionServices implements OnionServicesControl {
  private readonly dir: string
  private readonly context: () => ServiceContext
  private readonly decodeClientKey: (key: string) => Uint8Array
  private readonly running = new Map<string, HostedService>()
  /** In-process handlers (the library's `serve` with a handler): not persisted. */
  private readonly handlers = new Map<string, ServiceTarget>()

  /**
   * @param dir `<dataDir>/onion/services`
   * @param context what a service needs from the node (called when one starts)
   * @param decodeClientKey parses a client-authorization public key as users paste it
   */
  constructor (dir: string, context: () => ServiceContext, decodeClientKey: (key: string) => Uint8Array) {
    this.dir = dir
    this.context = context
    this.decodeClientKey = decodeClientKey
  }

  /** Starts every saved service (their introduction points are set up in the background). */
  async start (): Promise<void> {
    let names: string[]
    try { names = (await readdir(this.dir)).filter(f => f.endsWith('.json')).map(f => f.slice(0, -5)) } catch { return }
    for (const name of names.slice(0, MAX_SERVICES)) {
      try {
        const saved = JSON.parse(await readFile(join(this.dir, `${name}.json`), 'utf8')) as Saved
        void this.serve({ name, target: saved.target, authorizedClients: saved.authorizedClients, pow: saved.pow }).catch(() => {})
      } catch { /* a broken settings file leaves that service off; `serve` again rewrites it */ }
    }
  }

  async stopAll (): Promise<void> {
    await Promise.all([...this.running.values()].map(async s => { await s.stop() }))
    this.running.clear()
  }

  async serve (options: ServeOptions): Promise<HostedServiceInfo> {
    const target = parseServiceTarget(options.target)
    const name = options.name ?? `web-${target.port}`
    return await this.serveTarget(name, target, `${target.host}:${target.port}`, options, true)
  }

  /**
   * Hosts a service whose streams go to `handler` in this process (the library's form; not
   * saved, so it ends with the node). `port` is the port the client asked for.
   */
  async serveHandler (name: string, handler: Extract<ServiceTarget, { handler: unknown }>['handler'], options: Omit<ServeOptions, 'target' | 'name'> = {}): Promise<HostedServiceInfo> {
    this.handlers.set(name, { handler })
    return await this.serveTarget(name, { handler }, 'in-process handler', { ...options, target: '' }, false)
  }

  private async serveTarget (name: string, target: ServiceTarget, label: string, options: ServeOptions, persist: boolean): Promise<HostedServiceInfo> {
    if (!NAME.test(name)) throw new HsConfigError(`service name "${name}": use 1–32 letters, digits, - or _`)
    const clients = (options.authorizedClients ?? []).map(k => {
      try { return this.decodeClientKey(k) } catch (err) { throw new HsConfigError(`client key "${k.slice(0, 16)}…" is not a client-authorization public key (peerd onion client-key makes one): ${(err as Error).message}`) }
    })
    const existing = this.running.get(name)
    if (existing != null) { await existing.stop(); this.running.delete(name) }
    if (this.running.size >= MAX_SERVICES) throw new HsConfigError(`this node hosts ${MAX_SERVICES} services already; stop one first (peerd onion stop NAME)`)
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    await chmod(this.dir, 0o700)
    const seed = await this.seed(name)
    if (persist) {
      const saved: Saved = { target: label, authorizedClients: options.authorizedClients ?? [], pow: options.pow === true }
      await writeFile(join(this.dir, `${name}.json`), JSON.stringify(saved, null, 2) + '\n', { mode: 0o600 })
    }
    const service = new HostedService({ ...this.context(), name, identitySeed: seed, target, targetLabel: label, authorizedClients: clients, pow: options.pow })
    this.running.set(name, service)
    await service.start()
    return service.info()
  }

  /** The service's identity seed: read, or made and written 0600. */
  private async seed (name: string): Promise<Uint8Array> {
    const file = join(this.dir, `${name}.key`)
    try {
      const bytes = await readFile(file)
      if (bytes.length !== 32) throw new HsConfigError(`${file} is ${bytes.length} bytes, not a 32-byte key; move it away to make a new address`)
      return new Uint8Array(bytes)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const seed = randomBytes(32)
    await writeFile(file, seed, { mode: 0o600, flag: 'wx' })
    return new Uint8Array(seed)
  }

  list (): HostedServiceInfo[] {
    return [...this.running.values()].map(s => s.info())
  }

  /** The running service named `name` (tests, status). */
  get (name: string): HostedService | undefined {
    return this.running.get(name)
  }

  async stop (name: string): Promise<void> {
    const s = this.running.get(name)
    if (s == null) throw new HsNotFoundError(`no onion service named "${name}" (peerd onion services lists them)`)
    this.running.delete(name)
    this.handlers.delete(name)
    await s.stop()
    await rm(join(this.dir, `${name}.json`), { force: true })
  }
}
