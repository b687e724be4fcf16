/**
 * What the swarm scenarios (scaling, flash crowd) and their comparisons need from a file-sharing
 * tool: seed a file on some hosts, then start downloads on other hosts at one moment.
 * Implemented for peerd, BitTorrent (aria2) and IPFS (Helia).
 */
import type { NetHost } from '../harness/index.ts'

/** The file every tool moves. */
export interface InputFile {
  path: string
  size: number
  sha256: string
}

/** One downloader's result. */
export interface FetchTime {
  host: string
  /** Seconds from the common start to this host having the whole file. */
  seconds: number
  /** Peers that served it, when the tool says. */
  peers?: number
}

/** A file-sharing tool driven by the swarm scenarios. */
export interface SwarmTool {
  /** `peerd`, `bittorrent` or `helia`. */
  readonly name: string
  /** What runs, for the report (versions, settings). */
  readonly description: string
  /**
   * Seeds `input` on `seeders` and makes `downloaders` ready (started, and told about the
   * seeders and each other), without fetching anything yet. Nothing here is timed.
   */
  prepare: (input: InputFile, seeders: NetHost[], downloaders: NetHost[]) => Promise<void>
  /** Starts every download at one moment; resolves when all have the file (and it is checked). */
  fetchAll: (timeoutMs: number) => Promise<FetchTime[]>
  /** Anything worth reporting about the last run (read before `reset`), e.g. warnings in logs. */
  diagnostics?: () => Promise<string[]>
  /** Stops every process `prepare` started and removes their data. */
  reset: () => Promise<void>
}
