/**
 * The folders of src/ depend one way (docs/architecture and CONVENTIONS.md's layout): utils and
 * the error classes at the bottom, net above them, share and cash above net, node (createNode)
 * above those, the API above node, the daemon above the API, the CLI on top; the dashboard sees
 * only the API's types. Every relative import of every src/ file is read from its syntax tree
 * (`import … from`, `export … from`, `import(…)`, `typeof import(…)`); type-only imports count
 * too, because a type from a higher layer ties the lower one to it all the same.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url))

/**
 * What each layer may import. A layer is a folder of src/, or one of src/'s own files by its
 * name. `values` may be imported in any way, `types` only with `import type` (the dashboard runs
 * in a browser: it may not pull in Node.js code; the CLI talks to the daemon over HTTP and reads
 * the shapes of its answers).
 */
const ALLOWED: Record<string, { values: string[], types?: string[] }> = {
  errors: { values: [] },
  version: { values: [] },
  utils: { values: ['errors'] },
  net: { values: ['utils', 'errors', 'version'] },
  share: { values: ['net', 'utils', 'errors'] },
  cash: { values: ['net', 'utils', 'errors'] },
  onion: { values: ['net', 'utils', 'errors'] },
  node: { values: ['net', 'share', 'cash', 'onion', 'utils', 'errors', 'version'] },
  api: { values: ['node', 'share', 'cash', 'onion', 'net', 'utils', 'errors', 'version'] },
  daemon: { values: ['api', 'node', 'share', 'cash', 'onion', 'net', 'utils', 'errors', 'version'] },
  // the CLI runs the daemon and devnet in-process; otherwise it talks to the API (its types), and
  // takes only the data dir's paths from node, amount formatting from cash, share-link parsing
  // from share (for a link's name), the network list from net
  cli: { values: ['daemon', 'node', 'share', 'cash', 'net', 'utils', 'errors', 'version'], types: ['api'] },
  web: { values: [], types: ['api'] },
  index: { values: ['daemon', 'api', 'node', 'share', 'cash', 'onion', 'net', 'utils', 'errors', 'version'] }
}

/** One import of one file: the layers it goes between, and whether it brings in types only. */
interface LayerEdge { from: string, to: string, typeOnly: boolean, file: string, specifier: string }

async function sourceFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...await sourceFiles(p))
    } else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) {
      out.push(p)
    }
  }
  return out
}

/** The layer of a path under src/: its first folder, or a file of src/ itself by its name. */
function layerOf (srcRoot: string, path: string): string {
  const parts = relative(srcRoot, path).split(/[\\/]/)
  if (parts.length > 1) return parts[0] as string
  return (parts[0] as string).replace(/\.[cm]?[jt]sx?$/, '')
}

/** The relative module specifiers `text` imports, each with whether only types come through it. */
function importsOf (fileName: string, text: string): Array<{ specifier: string, typeOnly: boolean }> {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS)
  const found: Array<{ specifier: string, typeOnly: boolean }> = []
  const add = (node: ts.Node | undefined, typeOnly: boolean): void => {
    if (node != null && ts.isStringLiteralLike(node) && node.text.startsWith('.')) found.push({ specifier: node.text, typeOnly })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause
      // `import { type A, type B } from` brings in types only as well as `import type { A, B } from`
      const named = clause?.namedBindings
      const allTypeNames = clause != null && clause.name == null && named != null && ts.isNamedImports(named) &&
        named.elements.length > 0 && named.elements.every(e => e.isTypeOnly)
      add(node.moduleSpecifier, clause != null && (clause.isTypeOnly || allTypeNames))
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly)
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return found
}

/** Every import of `srcRoot`'s files that crosses from one layer into another. */
async function layerEdges (srcRoot: string): Promise<LayerEdge[]> {
  const edges: LayerEdge[] = []
  for (const file of await sourceFiles(srcRoot)) {
    const from = layerOf(srcRoot, file)
    for (const { specifier, typeOnly } of importsOf(file, await readFile(file, 'utf8'))) {
      const target = resolve(dirname(file), specifier)
      if (relative(srcRoot, target).startsWith('..')) continue // outside src/ (bin/, package.json)
      const to = layerOf(srcRoot, target)
      if (to !== from) edges.push({ from, to, typeOnly, file: relative(srcRoot, file), specifier })
    }
  }
  return edges
}

/** The imports `ALLOWED` does not permit, one line each. */
function forbidden (edges: LayerEdge[]): string[] {
  return edges.filter(e => {
    const rule = ALLOWED[e.from]
    if (rule == null) return true
    return !(rule.values.includes(e.to) || (e.typeOnly && (rule.types ?? []).includes(e.to)))
  }).map(e => `${e.from} → ${e.to}${e.typeOnly ? ' (types)' : ''}: src/${e.file} imports '${e.specifier}'`)
}

/** The cycles of the layer graph, each as its layers in order (empty when it has none). */
function cycles (graph: Map<string, Set<string>>): string[][] {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const walk = (n: string): void => {
    state.set(n, 'open')
    path.push(n)
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...path.slice(path.indexOf(m)), m])
      else if (state.get(m) == null) walk(m)
    }
    path.pop()
    state.set(n, 'done')
  }
  for (const n of [...graph.keys()].sort()) if (state.get(n) == null) walk(n)
  return found
}

function graphOf (pairs: Array<[string, string]>): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>()
  for (const [a, b] of pairs) {
    if (!g.has(a)) g.set(a, new Set())
    g.get(a)?.add(b)
  }
  return g
}

describe('src/ layers', () => {
  it('the allowed table itself has no cycle', () => {
    const pairs = Object.entries(ALLOWED).flatMap(([a, r]) => [...r.values, ...(r.types ?? [])].map(b => [a, b] as [string, string]))
    assert.deepEqual(cycles(graphOf(pairs)), [])
  })

  it('every import between folders is one the table allows', async () => {
    const edges = await layerEdges(SRC)
    assert.ok(edges.length > 50, `read only ${edges.length} imports between layers`)
    assert.deepEqual(forbidden(edges), [])
  })

  it('the folders import each other without a cycle', async () => {
    const edges = await layerEdges(SRC)
    assert.deepEqual(cycles(graphOf(edges.map(e => [e.from, e.to]))), [])
  })

  it('reads every kind of import, type-only ones included', () => {
    const text = [
      "import { a } from '../net/a.ts'",
      "import type { B } from '../share/b.ts'",
      "import { type C } from '../cash/c.ts'",
      "export { d } from '../node/d.ts'",
      "export type { E } from '../api/e.ts'",
      "const f = await import('../daemon/f.ts')",
      "let g: typeof import('../cli/g.ts')",
      "import x from 'libp2p'",
      "// import { h } from '../web/h.ts'"
    ].join('\n')
    assert.deepEqual(importsOf('x.ts', text), [
      { specifier: '../net/a.ts', typeOnly: false },
      { specifier: '../share/b.ts', typeOnly: true },
      { specifier: '../cash/c.ts', typeOnly: true },
      { specifier: '../node/d.ts', typeOnly: false },
      { specifier: '../api/e.ts', typeOnly: true },
      { specifier: '../daemon/f.ts', typeOnly: false },
      { specifier: '../cli/g.ts', typeOnly: true }
    ])
  })

  it('finds a cycle and a forbidden import when there is one', () => {
    const found = cycles(graphOf([['api', 'node'], ['node', 'net'], ['net', 'utils'], ['net', 'node']]))
    assert.deepEqual(found, [['node', 'net', 'node']])
    assert.equal(forbidden([{ from: 'net', to: 'node', typeOnly: true, file: 'net/host.ts', specifier: '../node/config.ts' }]).length, 1)
    assert.equal(forbidden([{ from: 'web', to: 'api', typeOnly: false, file: 'web/app/x.ts', specifier: '../../api/types.ts' }]).length, 1)
    assert.equal(forbidden([{ from: 'web', to: 'api', typeOnly: true, file: 'web/app/x.ts', specifier: '../../api/types.ts' }]).length, 0)
  })
})
