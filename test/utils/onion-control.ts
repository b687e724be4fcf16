/**
 * A fake {@link OnionControl} for the tests of the onion's user surfaces (API routes, CLI,
 * dashboard): fixed status and circuits, and a `newCircuits` that marks the open ones dirty, so
 * that a test sees its effect in the next answer.
 */
import type { CircuitInfo, OnionControl, OnionStatus } from '../../src/onion/types.ts'

/** Peer ids of the fake circuits' hops (shaped like Ed25519 peer ids; nobody's). */
export const HOPS = {
  guard: '12D3KooWGuardAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgd1',
  middle: '12D3KooWMiddleBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBmid2',
  exit: '12D3KooWExitCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCext3',
  exit2: '12D3KooWExitDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDext4'
}

/** The fake and what it was asked. */
export interface FakeOnion extends OnionControl {
  /** Calls of `newCircuits` so far. */
  newCircuitCalls: number
  /** Moves the relay counters on, as traffic would. */
  relay: (cells: number) => void
}

/** A fake onion service with two open circuits and one building. */
export function fakeOnion (): FakeOnion {
  let cells = 20_480
  const circuits: CircuitInfo[] = [
    {
      id: 'c1', purpose: 'socks', state: 'open',
      hops: [{ peerId: HOPS.guard, address: '/ip4/10.0.0.2/tcp/9470' }, { peerId: HOPS.middle }, { peerId: HOPS.exit }],
      createdAt: '2026-12-07T12:00:00.000Z', ageSeconds: 95, buildMs: 182.4, bytesSent: 5120, bytesReceived: 5_242_880, streams: 1, dirty: false, isolation: 'user-a'
    },
    {
      id: 'c2', purpose: 'peerd', state: 'open',
      hops: [{ peerId: HOPS.guard }, { peerId: HOPS.exit }, { peerId: HOPS.exit2 }],
      createdAt: '2026-12-07T12:01:00.000Z', ageSeconds: 35, buildMs: 240, bytesSent: 1024, bytesReceived: 2048, streams: 0, dirty: false
    },
    {
      id: 'c3', purpose: 'socks', state: 'building',
      hops: [{ peerId: HOPS.guard }],
      createdAt: '2026-12-07T12:01:30.000Z', ageSeconds: 1, buildMs: null, bytesSent: 0, bytesReceived: 0, streams: 0, dirty: false
    }
  ]
  const fake: FakeOnion = {
    running: true,
    newCircuitCalls: 0,
    relay: (n) => { cells += n },
    status: (): OnionStatus => ({
      relay: { enabled: true, rateBytesPerSec: 1_500_000, circuits: 3, cellsRelayed: cells, bytesRelayed: cells * 514, exit: true, exitPolicy: ['accept *:80', 'accept *:443', 'reject *:*'] },
      socks: '127.0.0.1:9050',
      relaysKnown: 42,
      guards: [{ peerId: HOPS.guard, addedAt: '2026-11-30T08:00:00.000Z', reachable: true }],
      circuitsOpen: circuits.filter(c => c.state === 'open').length
    }),
    circuits: () => circuits.map(c => ({ ...c, hops: [...c.hops] })),
    newCircuits: () => {
      fake.newCircuitCalls++
      let n = 0
      for (const c of circuits) {
        if (c.state === 'open' && !c.dirty) { c.dirty = true; n++ }
      }
      return n
    }
  }
  return fake
}
