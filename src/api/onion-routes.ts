/**
 * Onion routes of the API: this node's onion status (relay, exit, SOCKS, guards), its circuits,
 * "new circuits for new streams" (Tor's NEWNYM), the onion services it hosts (list, serve,
 * stop), and new client-authorization key pairs (for `peerd onion client-key`). They read the node's onion service through its {@link OnionControl}; a node without
 * one answers 503. A service's request is checked here, at the edge, so a bad target or name is
 * a 400 and an unknown name a 404 whatever the service layer throws.
 * @module
 */
import { isIP } from 'node:net'
import { InvalidArgumentError, NotFoundError, NotStartedError } from '../errors.ts'
import type { PeerdNode } from '../node/node.ts'
import { hsClientAuthKeyPair, MAX_AUTHORIZED_CLIENTS, parseHsClientPublicKey } from '../onion/hs/client-auth.ts'
import type { HostedServiceInfo, OnionServicesControl, ServeOptions } from '../onion/hs/types.ts'
import type { CircuitInfo, OnionControl, OnionStatus } from '../onion/types.ts'
import { HANDLED, sendJson } from './router.ts'
import type { Route } from './router.ts'
import type { ClientKeyPair } from './types.ts'

/** Longest client key string read (`descriptor:x25519:` and 52 base32 characters, with room for spaces). */
const MAX_CLIENT_KEY_CHARS = 128
/** The longest IPv6 text form (with an IPv4 tail and a zone), plus `[]`, `:` and a port. */
const MAX_TARGET_CHARS = 64

/** A service name: letters, digits, `-` and `_`, 1 to 32 of them (it names files in the data dir). */
export const SERVICE_NAME = /^[A-Za-z0-9_-]{1,32}$/

/** An onion control that may host services (`services` arrives with issue 17's service host). */
type WithServices = OnionControl & { readonly services?: OnionServicesControl }

/** The node's onion control, or a 503 saying it is not running. */
function control (node: PeerdNode): OnionControl {
  const onion: OnionControl | undefined = node.onion
  if (onion?.running !== true) throw new NotStartedError('the onion service is not running on this node')
  return onion
}

/** The node's onion services, or a 503 saying this node cannot host any. */
function services (node: PeerdNode): OnionServicesControl {
  const s = (control(node) as WithServices).services
  if (s == null) throw new NotStartedError('this node cannot host onion services')
  return s
}

/**
 * Checks a service target, `host:port`: an IPv4 address, a bracketed IPv6 address or
 * `localhost` (no other name: the service host resolves nothing), and a port from 1 to 65535.
 * Throws {@link InvalidArgumentError} otherwise.
 */
export function checkTarget (target: string): string {
  const bad = (why: string): InvalidArgumentError => new InvalidArgumentError(`"target" must be host:port, e.g. 127.0.0.1:8080 (${why}): ${target.slice(0, 80)}`)
  if (target.length > MAX_TARGET_CHARS) throw bad('too long')
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target)
  if (m == null) throw bad('not of that form')
  const port = Number(m[3])
  if (port < 1 || port > 65535) throw bad('the port must be from 1 to 65535')
  if (m[1] != null) {
    if (isIP(m[1]) !== 6) throw bad('not an IPv6 address in the brackets')
  } else if (isIP(m[2] as string) !== 4 && m[2] !== 'localhost') {
    throw bad('the host must be an IP address or localhost')
  }
  return target
}

/** Reads `POST /api/v1/onion/services`'s body into {@link ServeOptions}; throws {@link InvalidArgumentError} on anything off. */
export function serveOptionsOf (body: unknown): ServeOptions {
  if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('request body must be a JSON object with a string "target"')
  const b = body as Record<string, unknown>
  if (typeof b.target !== 'string' || b.target === '') throw new InvalidArgumentError('request body must be a JSON object with a string "target"')
  const options: ServeOptions = { target: checkTarget(b.target) }
  if (b.name != null) {
    if (typeof b.name !== 'string' || !SERVICE_NAME.test(b.name)) throw new InvalidArgumentError('"name" must be 1 to 32 letters, digits, "-" or "_"')
    options.name = b.name
  }
  if (b.authorizedClients != null) {
    const keys = b.authorizedClients
    if (!Array.isArray(keys) || keys.some(k => typeof k !== 'string' || k === '' || k.length > MAX_CLIENT_KEY_CHARS)) {
      throw new InvalidArgumentError('"authorizedClients" must be an array of client keys (strings, as `peerd onion client-key` prints them)')
    }
    if (keys.length > MAX_AUTHORIZED_CLIENTS) throw new InvalidArgumentError(`"authorizedClients" takes at most ${MAX_AUTHORIZED_CLIENTS} keys, not ${keys.length}`)
    for (const [i, k] of (keys as string[]).entries()) {
      try {
        parseHsClientPublicKey(k)
      } catch (err) {
        throw new InvalidArgumentError(`"authorizedClients"[${i}] is not a client public key (\`peerd onion client-key\` prints one: descriptor:x25519:…): ${(err as Error).message}`)
      }
    }
    options.authorizedClients = keys as string[]
  }
  if (b.pow != null) {
    if (typeof b.pow !== 'boolean') throw new InvalidArgumentError('"pow" must be a boolean')
    options.pow = b.pow
  }
  return options
}

/** The name in `POST /api/v1/onion/services/stop`'s body, of a service this node hosts (else a 404). */
function hostedName (s: OnionServicesControl, body: unknown): string {
  const name = (body as Record<string, unknown> | undefined)?.name
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('request body must be a JSON object with a string "name"')
  if (!s.list().some(x => x.name === name)) throw new NotFoundError(`no onion service named "${name.slice(0, 64)}" on this node`)
  return name
}

/** The onion routes. */
export function onionRoutes (node: PeerdNode): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/onion/status',
      handler: () => control(node).status() satisfies OnionStatus
    },
    {
      method: 'GET',
      path: '/api/v1/onion/circuits',
      handler: () => ({ circuits: control(node).circuits() satisfies CircuitInfo[] })
    },
    {
      method: 'POST',
      path: '/api/v1/onion/new-circuits',
      handler: () => ({ retired: control(node).newCircuits() })
    },
    {
      method: 'GET',
      path: '/api/v1/onion/services',
      handler: () => ({ services: services(node).list() satisfies HostedServiceInfo[] })
    },
    {
      method: 'POST',
      path: '/api/v1/onion/services',
      handler: async ({ body, res }) => {
        const s = services(node)
        const info: HostedServiceInfo = await s.serve(serveOptionsOf(body))
        sendJson(res, 201, info)
        return HANDLED
      }
    },
    {
      method: 'POST',
      path: '/api/v1/onion/services/stop',
      handler: async ({ body, res }) => {
        const s = services(node)
        await s.stop(hostedName(s, body))
        res.writeHead(204, { 'cache-control': 'no-store' }).end()
        return HANDLED
      }
    },
    {
      // pure key generation: any node answers, onion running or not
      method: 'POST',
      path: '/api/v1/onion/client-key',
      handler: () => hsClientAuthKeyPair() satisfies ClientKeyPair
    }
  ]
}
