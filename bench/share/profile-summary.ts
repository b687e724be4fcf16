/**
 * Summarises `.cpuprofile` files (from `node --cpu-prof`): self time by function and by
 * package, inclusive time of the functions named with `--focus`, and the callers of those
 * named with `--callers`.
 *
 * Caveat: while the main thread waits for a file operation in libuv's thread pool, the samples
 * go to the native function that started it (`openFileHandle`, `read`, `fstat`, `close`,
 * `writeBuffers`…), not to `(idle)`: their self time is mostly waiting, not CPU. The thread
 * CPU-seconds that bench/share/profile.ts prints are the reliable figure.
 *
 * ```
 * node bench/share/profile-summary.ts [--top N] [--focus NAME]... [--callers NAME]... FILE.cpuprofile...
 * ```
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface Node {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, focus: { type: 'string', multiple: true }, callers: { type: 'string', multiple: true } } })
const top = Number(values.top ?? 40)

function pkgOf (url: string): string {
  if (url === '') return '(native/vm)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m != null) return m[1] as string
  if (url.startsWith('node:')) return url
  const s = /\/(src\/[^/]+\/[^/]+|src\/[^/]+)$/.exec(url)
  return s?.[1] ?? url
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const byFn = new Map<string, number>()
  const byPkg = new Map<string, number>()
  for (const [id, t] of self) {
    const n = byId.get(id) as Node
    const cf = n.callFrame
    const key = `${cf.functionName || '(anon)'} ${pkgOf(cf.url)}:${cf.lineNumber + 1}`
    byFn.set(key, (byFn.get(key) ?? 0) + t)
    const pkg = pkgOf(cf.url)
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t)
  }
  const ms = (t: number): string => `${(t / 1000).toFixed(0).padStart(7)} ms ${(100 * t / total).toFixed(1).padStart(5)}%`
  console.log(`\n== ${file}: ${(total / 1e6).toFixed(2)} s sampled`)
  console.log('-- self time by package')
  for (const [k, t] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${ms(t)}  ${k}`)
  console.log('-- self time by function')
  for (const [k, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(t)}  ${k}`)
  for (const name of values.focus ?? []) {
    // inclusive: samples with a frame of that name on their stack (counted once)
    let incl = 0
    for (const [id, t] of self) {
      for (let cur: number | undefined = id; cur != null; cur = parent.get(cur)) {
        if (byId.get(cur)?.callFrame.functionName === name) { incl += t; break }
      }
    }
    console.log(`-- inclusive ${name}: ${ms(incl)}`)
  }
  for (const name of values.callers ?? []) {
    // self time of NAME, by the chain of its four nearest callers
    const chains = new Map<string, number>()
    for (const [id, t] of self) {
      if (byId.get(id)?.callFrame.functionName !== name) continue
      const names: string[] = []
      for (let cur = parent.get(id); cur != null && names.length < 4; cur = parent.get(cur)) {
        const cf = (byId.get(cur) as Node).callFrame
        names.push(`${cf.functionName || '(anon)'}@${pkgOf(cf.url)}`)
      }
      const k = names.join(' < ')
      chains.set(k, (chains.get(k) ?? 0) + t)
    }
    console.log(`-- callers of ${name}`)
    for (const [k, t] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`${ms(t)}  ${k}`)
  }
}
