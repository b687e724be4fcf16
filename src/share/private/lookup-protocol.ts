/**
 * The provider lookup protocol, `/peerd/<network>/providers/1.0.0`: one node asks another to look
 * up the providers of a root in the DHT on its behalf. A private download (`peerd get --private`)
 * asks a few random peers this through onion circuits, so its own DHT queries never name the CID
 * and the peers it asks do not learn who wants it.
 *
 * One stream per request. The asking side writes one frame, the root's CID bytes (canonical, at
 * most MAX_CID_BYTES); the answering side writes one frame, the peer list protocol's encoding
 * (`src/net/peer-list.ts`: a count, then base58 peer ids, canonical only), with at most
 * {@link MAX_ANSWER_PROVIDERS} ids, and closes. Peer ids only, never addresses: the asker dials no
 * one itself, and the exit of each circuit finds the provider's addresses.
 * @module
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import { encodeFrame, readFrames } from '../../net/frames.ts'
import { decodePeerList, encodePeerList, MAX_FRAME as MAX_PEER_LIST_FRAME } from '../../net/peer-list.ts'
import { decodeCid, MAX_CID_BYTES } from '../block.ts'
import { ProviderLookupError } from './errors.ts'

/** Protocol id of the provider lookup protocol on `network` (under `/peerd/<network>/`, so any exit serves it). */
export function lookupProtocol (network: string): string {
  return `/peerd/${network}/providers/1.0.0`
}

/** Most provider ids in one answer (a DHT lookup returns up to 20 records per key). */
export const MAX_ANSWER_PROVIDERS = 20
/** Largest request frame body. */
export const MAX_REQUEST_FRAME = MAX_CID_BYTES
/** Largest answer frame body. */
export const MAX_ANSWER_FRAME = MAX_PEER_LIST_FRAME

/** Encodes a request: one frame holding `root`'s bytes. */
export function encodeLookupRequest (root: CID): Uint8Array {
  return encodeFrame(root.bytes)
}

/** Decodes a request body; throws {@link ProviderLookupError} on anything but one canonical CID. */
export function decodeLookupRequest (body: Uint8Array): CID {
  const cid = decodeCid(body)
  if (cid == null) throw new ProviderLookupError('the request is not a CID peerd handles')
  return cid
}

/** Encodes an answer: the ids (only the first {@link MAX_ANSWER_PROVIDERS} are kept). */
export function encodeLookupAnswer (ids: string[]): Uint8Array {
  return encodePeerList(ids.slice(0, MAX_ANSWER_PROVIDERS))
}

/** Decodes an answer body; throws a `ProtocolError` when it lists too many or malformed ids. */
export function decodeLookupAnswer (body: Uint8Array): PeerId[] {
  const ids = decodePeerList(body)
  if (ids.length > MAX_ANSWER_PROVIDERS) throw new ProviderLookupError(`${ids.length} providers in an answer, over the ${MAX_ANSWER_PROVIDERS} limit`)
  return ids.map(id => peerIdFromString(id))
}

/** The first frame of `source` (its body), or a {@link ProviderLookupError} when it ends first. */
export async function readOneFrame (source: AsyncIterable<Uint8Array | Uint8ArrayList>, maxFrame: number): Promise<Uint8Array> {
  for await (const body of readFrames(source, maxFrame)) return body
  throw new ProviderLookupError('the stream ended before a whole message')
}
