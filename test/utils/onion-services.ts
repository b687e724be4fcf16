/**
 * A fake {@link OnionServicesControl} for the tests of the onion services' user surfaces (API
 * routes, CLI, dashboard): `serve` records the options and answers a service with an address
 * shaped like a real one, `list` and `stop` act on what was served, so a test sees its calls'
 * effect in the next answer.
 */
import { createHash } from 'node:crypto'
import type { HostedServiceInfo, OnionServicesControl, ServeOptions } from '../../src/onion/hs/types.ts'

/** The fake and what it was asked. */
export interface FakeServices extends OnionServicesControl {
  /** Every `serve` call's options, in order. */
  served: ServeOptions[]
  /** Every `stop` call's name, in order. */
  stopped: string[]
}

/** A 56-character lowercase base32 string ending in `.peerd`, derived from `seed` (not a valid key). */
export function fakeAddress (seed: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  const bytes = createHash('sha512').update(seed).digest()
  let s = ''
  for (let i = 0; i < 56; i++) s += alphabet[(bytes[i] as number) % 32]
  return `${s}.peerd`
}

/** A fake service host; `initial` services are there from the start. */
export function fakeServices (initial: HostedServiceInfo[] = []): FakeServices {
  const hosted = new Map(initial.map(s => [s.name, structuredClone(s)]))
  const fake: FakeServices = {
    served: [],
    stopped: [],
    serve: async (options) => {
      fake.served.push(structuredClone(options))
      const name = options.name ?? `web-${options.target.slice(options.target.lastIndexOf(':') + 1)}`
      const info: HostedServiceInfo = {
        name,
        address: fakeAddress(name),
        target: options.target,
        introPoints: 0,
        authorizedClients: options.authorizedClients?.length ?? 0,
        pow: { enabled: options.pow === true, suggestedEffort: 0 },
        stats: { introductions: 0, rendezvous: 0, dropped: 0, streams: 0 }
      }
      hosted.set(name, info)
      return structuredClone(info)
    },
    list: () => [...hosted.values()].map(s => structuredClone(s)),
    stop: async (name) => {
      fake.stopped.push(name)
      hosted.delete(name)
    }
  }
  return fake
}

/** A published service with three introduction points and a puzzle on, as a busy one looks. */
export const PUBLISHED: HostedServiceInfo = {
  name: 'blog',
  address: fakeAddress('blog'),
  target: '127.0.0.1:8080',
  introPoints: 3,
  publishedAt: Date.parse('2026-12-07T12:00:00.000Z'),
  revision: 1_796_644_800,
  authorizedClients: 2,
  pow: { enabled: true, suggestedEffort: 150 },
  stats: { introductions: 40, rendezvous: 31, dropped: 9, streams: 44 }
}
