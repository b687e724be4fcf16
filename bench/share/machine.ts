/** What the benchmark ran on, for the report. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os'

/** The machine and runtime of a benchmark run. */
export interface MachineInfo {
  date: string
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  os: string
  /** The one-minute load average when the run started: other work on the machine skews the figures. */
  load: number
  /** The peerd source measured: git commit, with `+dirty` when the tree has uncommitted changes. */
  commit: string
}

function gitCommit (): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') === '' ? '' : '+dirty'}`
  } catch {
    return 'unknown'
  }
}

function cpuModel (): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find(l => l.startsWith('model name'))
    const model = line?.split(':')[1]?.trim()
    if (model != null && model !== '') return model
  } catch { /* not Linux */ }
  return cpus()[0]?.model ?? 'unknown'
}

/** Reads the CPU model (from /proc/cpuinfo on Linux), core count, memory, Node.js, OS and git commit. */
export function machineInfo (): MachineInfo {
  return {
    date: new Date().toISOString(),
    cpu: cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
    load: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    commit: gitCommit()
  }
}
