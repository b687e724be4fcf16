/**
 * CPU time of one process from /proc: what the onion bench's relay measurement (e) reads before
 * and after pushing a known number of bytes through a relay. User plus system time of the process
 * and of its live descendants (a launcher that forks would otherwise hide its child's time).
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Clock ticks per second of /proc's times (USER_HZ, 100 on every Linux this bench runs on). */
const HZ = 100

interface Stat { ppid: number, ticks: number }

function stat (pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name may hold spaces and parentheses: fields start after the last ')'
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) }
  } catch {
    return undefined
  }
}

/** CPU-seconds (utime + stime) used so far by `pid` and its live descendants. */
export function processCpuSeconds (pid: number): number {
  const root = stat(pid)
  if (root == null) throw new Error(`process ${pid} is gone`)
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    const p = Number(name)
    if (!Number.isInteger(p) || p === pid) continue
    const s = stat(p)
    if (s == null) continue
    const list = children.get(s.ppid) ?? []
    list.push(p)
    children.set(s.ppid, list)
  }
  let ticks = root.ticks
  const queue = [...(children.get(pid) ?? [])]
  while (queue.length > 0) {
    const p = queue.pop() as number
    ticks += stat(p)?.ticks ?? 0
    queue.push(...(children.get(p) ?? []))
  }
  return ticks / HZ
}

/** A CPU meter of one process: `stop()` gives the CPU-seconds it used and the wall seconds since `start`. */
export function cpuMeter (pid: number): { stop: () => { cpuSeconds: number, seconds: number } } {
  const c0 = processCpuSeconds(pid)
  const t0 = performance.now()
  return { stop: () => ({ cpuSeconds: processCpuSeconds(pid) - c0, seconds: (performance.now() - t0) / 1000 }) }
}
