/**
 * How much CPU other processes took while a scenario ran (Linux only): the machine's busy time
 * from /proc/stat minus the CPU of this process and its children. On a shared machine this tells
 * a slow figure caused by peerd from one caused by a neighbour. Also the CPU the benchmark's own
 * processes used, which shows when a transfer is bound by the machine's cores.
 */
import { readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100 // USER_HZ, 100 on every mainstream Linux

/** CPU counters at one moment. */
export interface CpuSnapshot {
  at: number
  /** Busy CPU-seconds of the whole machine since boot. */
  machine: number
  /** User and system CPU-seconds of this process, its reaped children and the live `pids`. */
  own: { user: number, sys: number }
}

function machineBusy (): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal: all but idle and iowait are busy
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND
}

/** User and system seconds of `pid` (plus its reaped children's with `children`); 0 once it is gone. */
function processCpu (pid: number | 'self', children: boolean): { user: number, sys: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name, which may contain spaces: state is field 3, utime 14
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
    const [utime = 0, stime = 0, cutime = 0, cstime = 0] = f.slice(11, 15)
    return { user: (utime + (children ? cutime : 0)) / TICKS_PER_SECOND, sys: (stime + (children ? cstime : 0)) / TICKS_PER_SECOND }
  } catch {
    return { user: 0, sys: 0 }
  }
}

/** Reads the counters, or undefined where /proc is missing. */
export function cpuSnapshot (livePids: number[]): CpuSnapshot | undefined {
  try {
    const own = processCpu('self', true)
    for (const pid of livePids) {
      const c = processCpu(pid, false)
      own.user += c.user
      own.sys += c.sys
    }
    return { at: performance.now(), machine: machineBusy(), own }
  } catch {
    return undefined
  }
}

/** Average cores' worth of CPU that other processes used between two snapshots. */
export function backgroundCores (a: CpuSnapshot | undefined, b: CpuSnapshot | undefined): number | undefined {
  if (a == null || b == null || b.at <= a.at) return undefined
  const other = (b.machine - a.machine) - ownCpu(a, b).total
  return Math.max(0, other) / ((b.at - a.at) / 1000)
}

/** CPU-seconds the benchmark's own processes used between two snapshots. */
export function ownCpu (a: CpuSnapshot, b: CpuSnapshot): { user: number, sys: number, total: number } {
  const user = b.own.user - a.own.user
  const sys = b.own.sys - a.own.sys
  return { user, sys, total: user + sys }
}
