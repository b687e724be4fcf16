/**
 * What a node's onion services look like from the outside (issue 17): the shapes the API, the
 * CLI and the dashboard show, and the control surface `node.onion.services` offers.
 * @module
 */

/** One onion service this node hosts. */
export interface HostedServiceInfo {
  /** The name it was created under (its key and settings are kept under it in the data dir). */
  name: string
  /** `<56 base32 characters>.peerd`: what clients type; encodes the service's public key. */
  address: string
  /** Where its streams go: `host:port` on this machine. */
  target: string
  /** Introduction points with an established circuit now. */
  introPoints: number
  /** When its descriptor was last published to the DHT (ms since the epoch), if ever. */
  publishedAt?: number
  /** The descriptor's revision last published. */
  revision?: number
  /** Client authorization: how many client keys may read its descriptor (0: anyone with the address). */
  authorizedClients: number
  /** Proof of work: whether introductions must carry one, and the effort the descriptor suggests. */
  pow: { enabled: boolean, suggestedEffort: number }
  /** Introductions received, rendezvous completed, introductions dropped (queue overflow, bad puzzle). */
  stats: { introductions: number, rendezvous: number, dropped: number, streams: number }
}

/** Options of {@link OnionServicesControl.serve}. */
export interface ServeOptions {
  /** `host:port` (e.g. `127.0.0.1:8080`) that every stream to the service is connected to. */
  target: string
  /** Defaults to a name derived from the target's port (`web-8080`). Letters, digits, `-`, `_`; ≤ 32. */
  name?: string
  /** Client authorization keys (the public half, as `peerd onion client-key` prints it); empty: open. */
  authorizedClients?: string[]
  /** Require a client puzzle from the start (it is switched on by itself under a flood otherwise). */
  pow?: boolean
}

/** `node.onion.services`: host onion services (persisted in the data dir, restarted with the node). */
export interface OnionServicesControl {
  /** Creates (or restarts, by name) a service and starts publishing it; resolves once it has a name and address. */
  serve: (options: ServeOptions) => Promise<HostedServiceInfo>
  list: () => HostedServiceInfo[]
  /** Stops and forgets a service (its key stays in the data dir, so serving the same name again gives the same address). */
  stop: (name: string) => Promise<void>
}
