/**
 * The test bed of the swarm scenarios (scaling, flash crowd) and their comparisons: nine
 * identical hosts, each 20 Mbit/s up and 200 Mbit/s down, and one file of random bytes.
 * Scaling: h1 downloads from k of h2…h9. Flash crowd: h2 seeds, the eight others download.
 */
import { join } from 'node:path'
import { Network, tempDir, writeRandomFile } from '../harness/index.ts'
import type { InputFile } from '../tools/swarm.ts'

/** Uplink of every host, Mbit/s. */
export const UP_MBIT = 20
/** Downlink of every host, Mbit/s. */
export const DOWN_MBIT = 200
/** Hosts of the bed. */
export const BED_HOSTS = 9

/** The network and the input file. */
export interface Bed {
  net: Network
  input: InputFile
  /** Removes the network and the file. */
  destroy: () => Promise<void>
}

/** Builds the bed with a `sizeBytes` file (`hosts` hosts, default {@link BED_HOSTS}). */
export async function createBed (sizeBytes: number, hosts = BED_HOSTS): Promise<Bed> {
  const dir = await tempDir('input')
  const path = join(dir.path, 'input.bin')
  const sha256 = await writeRandomFile(path, sizeBytes)
  const net = await Network.create(Array.from({ length: hosts }, () => ({ upMbit: UP_MBIT, downMbit: DOWN_MBIT })))
  return {
    net,
    input: { path, size: sizeBytes, sha256 },
    destroy: async () => { await net.destroy(); await dir.remove() }
  }
}
