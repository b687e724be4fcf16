/**
 * Onion routing (issue 16, "Onion I"). So far: the ntor handshake that sets up a circuit's keys
 * with each hop, and the relay's replay filter.
 *
 *     import { ntorClientCreate, ntorClientComplete, ntorServerHandshake, ntorKeyPair, ntorRelayId, ReplayFilter } from './onion/index.ts'
 *
 *     // the relay: its id (from its libp2p public key) and a published onion key
 *     const relay = { id: ntorRelayId(publicKeyToProtobuf(peerKey)), onionKeyPair: ntorKeyPair() }
 *     const replay = new ReplayFilter()
 *
 *     const { state, onionskin } = ntorClientCreate(relay.id, relay.onionKeyPair.publicKey) // client → relay
 *     const { reply, keys } = ntorServerHandshake(onionskin, relay, { replay })              // relay → client
 *     const same = ntorClientComplete(state, reply)                                          // HandshakeError unless AUTH verifies
 */
export { HandshakeError, HandshakeReplayError } from './errors.ts'
export { AUTH_BYTES, KEY_BYTES, NTOR_REPLY_BYTES, PEERD_NTOR, TOR_NTOR, ntorClientComplete, ntorClientCreate, ntorKeyPair, ntorRelayId, ntorServerHandshake } from './ntor.ts'
export type { NtorClientState, NtorKeyPair, NtorOptions, NtorParams, NtorRelayKeys, NtorServerOptions } from './ntor.ts'
export { ReplayFilter } from './replay.ts'
export type { ReplayFilterOptions } from './replay.ts'
