/**
 * Onion-service descriptors in the DHT (issue 17): each is stored under
 * `/peerd-hs/<network>/` followed by its blinded key A' (32 bytes), so the DHT holds one record
 * per service and period that it cannot link to an address or to the service's other periods.
 * The DHT checks a record with {@link hsDescriptorValidator} (size, signature by A', lifetime,
 * not from the future, stored under its own A') and keeps the highest revision with
 * {@link hsDescriptorSelector}; both are registered in the node's `dhtValidators` and
 * `dhtSelectors` under {@link HS_DHT_NAMESPACE}, as relay descriptors are under `peerd-onion`.
 *
 * ```ts
 * await drain(dht.put(hsDescriptorDhtKey('main', blindPublicKey(identityPub, period)), bytes))
 * ```
 * @module
 */
import { decodeHsDescriptor, verifyHsDescriptor } from './descriptor.ts'
import { ForgedHsDescriptorError } from './hs-errors.ts'

/** Prefix of descriptor keys in the DHT (also the DHT's validator and selector namespace). */
export const HS_DHT_NAMESPACE = 'peerd-hs'

const BLINDED_KEY_BYTES = 32

/** The DHT key of the descriptor with blinded key `blindedPub` on `network`: `/peerd-hs/<network>/` then A'. */
export function hsDescriptorDhtKey (network: string, blindedPub: Uint8Array): Uint8Array {
  if (!(blindedPub instanceof Uint8Array) || blindedPub.length !== BLINDED_KEY_BYTES) throw new RangeError(`a blinded key is ${BLINDED_KEY_BYTES} bytes`)
  const prefix = new TextEncoder().encode(`/${HS_DHT_NAMESPACE}/${network}/`)
  const key = new Uint8Array(prefix.length + BLINDED_KEY_BYTES)
  key.set(prefix)
  key.set(blindedPub, prefix.length)
  return key
}

/**
 * A DHT validator for descriptor records of `network`: throws a typed `HsDescriptorError`
 * unless the value is a descriptor that verifies now and is stored under its own blinded key.
 * `now` exists for tests.
 */
export function hsDescriptorValidator (network: string, now: () => number = Date.now): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  return async (key, value) => {
    const outer = verifyHsDescriptor(value, now())
    const expected = hsDescriptorDhtKey(network, outer.blindedKey)
    if (key.length !== expected.length || Buffer.compare(key, expected) !== 0) throw new ForgedHsDescriptorError('a descriptor stored under another key than its blinded key\'s')
  }
}

/** A DHT selector for descriptor records: the index of the highest revision (the first of equals; an undecodable record never wins). */
export function hsDescriptorSelector (_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0
  let bestRevision = -1
  records.forEach((r, i) => {
    let revision = -1
    try { revision = decodeHsDescriptor(r).revision } catch { /* a broken record never wins */ }
    if (revision > bestRevision) { best = i; bestRevision = revision }
  })
  return best
}

/** The protocol id under which every node answers DHT work on onion-service descriptors for peers behind circuits (`src/net/dht-proxy.ts`). */
export function hsdirProtocol (network: string): string {
  return `/peerd/${network}/onion/hsdir/1.0.0`
}
