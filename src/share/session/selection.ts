/**
 * Selective download: which entries of a directory DAG a `get CID/PATH` or `get --only GLOB`
 * fetches. A download session asks {@link decide} about every directory entry it meets, so
 * unselected entries are never queued: only the directory nodes on the way (with the HAMT
 * shard nodes that lead to the names) and the selected entries' whole subtrees are fetched.
 *
 * Globs are Node's `path.matchesGlob` (`*`, `?`, `[abc]`, `{a,b}`, `**` across levels; `*`
 * does not match a leading dot) and match paths relative to the selected PATH (or the root).
 * A glob that matches a directory selects everything under it. To tell whether a glob could
 * match something below an entry whose type it does not know yet, the walk fetches that entry's
 * root node (never a file's data): a raw block is a file and needs no fetch.
 */
import { matchesGlob } from 'node:path'
import { murmur3128 } from '@multiformats/murmur3'
import { InvalidArgumentError, NotFoundError } from '../../errors.ts'

/** Longest PATH accepted, in characters. */
export const MAX_PATH_LENGTH = 4096
/** Most path segments in a PATH or a glob. */
export const MAX_SEGMENTS = 64
/** Most `--only` globs in one get. */
export const MAX_GLOBS = 64
/** Longest glob accepted, in characters. */
export const MAX_GLOB_LENGTH = 1024
/** Most alternatives a glob's braces may expand to (`{a,b}{c,d}`: 4). */
export const MAX_BRACE_ALTERNATIVES = 256
/** Most `*` in one segment of a glob (each adds a level of backtracking to the match). */
export const MAX_STARS = 8
/** Names of a directory kept for the "no entry" error. */
const NAMES_SHOWN = 20

/** A PATH or glob that cannot select anything (`..`, too long, empty). */
export class InvalidSelectionError extends InvalidArgumentError {
  static override name = 'InvalidSelectionError'
}

/** A PATH that is not in the directory, or globs that match nothing. */
export class SelectionNotFoundError extends NotFoundError {
  static override name = 'SelectionNotFoundError'
}

/** A validated selection: a base path inside the root, and globs relative to it. */
export interface Selection {
  /** Segments of the selected PATH ([] for the root). */
  base: string[]
  /** Globs relative to the base; none: the whole base. */
  globs: string[]
}

/** What the walk does with a directory entry. */
export type Decision =
  /** Selected: fetch its whole subtree. */
  | 'all'
  /** Something under it may be selected: fetch its node, and if a directory decide its entries. */
  | 'enter'
  /** Not selected: never fetched. */
  | 'skip'

function checkSegment (seg: string, what: string): void {
  if (seg === '.' || seg === '..') throw new InvalidSelectionError(`${what} may not contain '${seg}' segments`)
  if (seg.includes('\0') || seg.includes('\\')) throw new InvalidSelectionError(`${what} may not contain NUL or backslash characters`)
}

/** Splits a PATH into its segments, refusing `..`, `.`, NUL, backslashes and over-long input. */
export function splitPath (path: string): string[] {
  if (path.length > MAX_PATH_LENGTH) throw new InvalidSelectionError(`path is ${path.length} characters long, over the ${MAX_PATH_LENGTH} accepted`)
  const segs = path.split('/').filter(s => s !== '')
  if (segs.length > MAX_SEGMENTS) throw new InvalidSelectionError(`path has ${segs.length} segments, over the ${MAX_SEGMENTS} accepted`)
  for (const s of segs) checkSegment(s, `path ${JSON.stringify(path.slice(0, 80))}`)
  return segs
}

/** How many alternatives the braces of `glob` expand to, at most (nested commas count as if at the top). */
function braceAlternatives (glob: string): number {
  let product = 1
  let depth = 0
  let commas = 0
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '\\') { i++; continue }
    if (c === '{') {
      depth++
    } else if (c === '}' && depth > 0) {
      depth--
      if (depth === 0) {
        product *= commas + 1
        commas = 0
      }
    } else if (c === ',' && depth > 0) {
      commas++
    }
    if (product > MAX_BRACE_ALTERNATIVES) break
  }
  return product
}

/**
 * Checks a glob and returns it without leading `./` and repeated `**` segments. Patterns whose
 * matching could take unbounded time are refused: brace ranges (`{1..100000}` expands to every
 * number), braces expanding to more than {@link MAX_BRACE_ALTERNATIVES} patterns, extglobs
 * (`+(…)`, `!(…)`) and more than {@link MAX_STARS} `*` in a segment.
 */
export function checkGlob (glob: string): string {
  if (glob.length > MAX_GLOB_LENGTH) throw new InvalidSelectionError(`--only glob is ${glob.length} characters long, over the ${MAX_GLOB_LENGTH} accepted`)
  const quoted = `--only ${JSON.stringify(glob.slice(0, 80))}`
  if (/\{[^{}]*\.\.[^{}]*\}/.test(glob)) throw new InvalidSelectionError(`${quoted}: brace ranges ({a..b}) are not accepted; list the names ({a,b,c})`)
  if (braceAlternatives(glob) > MAX_BRACE_ALTERNATIVES) throw new InvalidSelectionError(`${quoted}: its braces expand to more than ${MAX_BRACE_ALTERNATIVES} patterns`)
  if (/[!+@*?]\(/.test(glob)) throw new InvalidSelectionError(`${quoted}: extglobs (+(…), !(…), @(…), *(…), ?(…)) are not accepted`)
  if (glob.startsWith('/')) throw new InvalidSelectionError(`--only ${JSON.stringify(glob.slice(0, 80))}: globs are relative to the selected folder, without a leading '/'`)
  const segs = glob.replace(/^(\.\/)+/, '').split('/').filter(s => s !== '')
  if (segs.length === 0) throw new InvalidSelectionError('--only needs a non-empty glob')
  if (segs.length > MAX_SEGMENTS) throw new InvalidSelectionError(`--only glob has ${segs.length} segments, over the ${MAX_SEGMENTS} accepted`)
  for (const s of segs) {
    checkSegment(s, quoted)
    if (s !== '**' && s.split('*').length - 1 > MAX_STARS) throw new InvalidSelectionError(`${quoted}: more than ${MAX_STARS} '*' in one segment`)
  }
  return segs.filter((s, i) => !(s === '**' && segs[i - 1] === '**')).join('/')
}

/** Validates `path` and `only` into a {@link Selection}; undefined when they select the whole root. */
export function parseSelection (path?: string, only?: readonly string[]): Selection | undefined {
  const base = splitPath(path ?? '')
  if (only != null && only.length > MAX_GLOBS) throw new InvalidSelectionError(`${only.length} --only globs, over the ${MAX_GLOBS} accepted`)
  const globs = [...new Set((only ?? []).map(checkGlob))]
  if (base.length === 0 && globs.length === 0) return undefined
  return { base, globs }
}

/** A canonical text of a selection (records, session keys): `PATH`, `only GLOB, GLOB` or `PATH only GLOB, …`. */
export function selectionKey (sel: Selection): string {
  const globs = sel.globs.length > 0 ? `only ${sel.globs.join(', ')}` : ''
  return [sel.base.join('/'), globs].filter(s => s !== '').join(' ')
}

const MAGIC = /[*?[\]{}!+@()]/

/** Whether some path below `rel` (one segment or more) could match the glob's segments. */
export function couldMatchBelow (rel: readonly string[], pat: readonly string[]): boolean {
  // memoised by (segment of rel, segment of the glob): each `**` would otherwise double the work
  const memo = new Map<number, boolean>()
  const from = (i: number, j: number): boolean => {
    if (i === rel.length) return j < pat.length
    if (j === pat.length) return false
    const key = i * (pat.length + 1) + j
    const known = memo.get(key)
    if (known != null) return known
    const result = pat[j] === '**'
      ? from(i, j + 1) || from(i + 1, j)
      : matchesGlob(rel[i] as string, pat[j] as string) && from(i + 1, j + 1)
    memo.set(key, result)
    return result
  }
  return from(0, 0)
}

/** Splits a `/`-joined entry path (the root is ''). */
function segments (path: string): string[] {
  return path === '' ? [] : path.split('/')
}

/** Decides an entry at `path` (its segments from the root, `/`-joined). */
export function decide (sel: Selection, path: string): Decision {
  const segs = segments(path)
  const n = sel.base.length
  const common = Math.min(n, segs.length)
  for (let i = 0; i < common; i++) if (segs[i] !== sel.base[i]) return 'skip'
  if (segs.length < n) return 'enter'
  if (sel.globs.length === 0) return 'all'
  const rel = segs.slice(n)
  if (rel.length === 0) return 'enter'
  const relPath = rel.join('/')
  if (sel.globs.some(g => matchesGlob(relPath, g))) return 'all'
  return sel.globs.some(g => couldMatchBelow(rel, g.split('/'))) ? 'enter' : 'skip'
}

/** Whether the entry at `path` must be a directory (it is the base, with globs, or above the base). */
export function mustBeDirectory (sel: Selection, path: string): boolean {
  const segs = segments(path)
  return segs.length < sel.base.length || (segs.length === sel.base.length && sel.globs.length > 0)
}

/**
 * The names that can be selected in the directory at `dir` when every one is a literal (the
 * walk then follows only the HAMT shards that lead to them); undefined when a glob could match
 * any name there.
 */
export function wantedNames (sel: Selection, dir: string): string[] | undefined {
  const segs = segments(dir)
  if (segs.length < sel.base.length) return [sel.base[segs.length] as string]
  const rel = segs.slice(sel.base.length)
  const names = new Set<string>()
  for (const g of sel.globs) {
    const pat = g.split('/')
    if (pat.slice(0, rel.length + 1).includes('**')) return undefined
    if (pat.length <= rel.length) continue
    if (!rel.every((s, i) => matchesGlob(s, pat[i] as string))) continue
    const next = pat[rel.length] as string
    if (MAGIC.test(next)) return undefined
    names.add(next)
  }
  return [...names]
}

/**
 * The bucket of `name` at `depth` of a HAMT directory with a fanout of 256, as the UnixFS
 * importer places it (murmur3-x64-128, first 64 bits, one byte per level); undefined past
 * the 8 levels one hash gives.
 */
export function shardBucket (name: string, depth: number): number | undefined {
  if (depth < 0 || depth >= 8) return undefined
  const hash = murmur3128.encode(new TextEncoder().encode(name))
  // the hasher computes synchronously; were it ever not to, every shard is followed instead
  return hash instanceof Uint8Array ? hash[depth] : undefined
}

/** What the DAG walk asks of a selection (a {@link Selector}, or the directory lister's). */
export interface EntryFilter {
  /** Decides the entry at `path` ('' is the root). */
  decide: (path: string) => Decision
  /** Whether the entry at `path` must be a directory (a file there fails the walk). */
  mustBeDirectory: (path: string) => boolean
  /** The only names selectable in the directory at `dir`, when known (HAMT shards are followed for them alone). */
  wantedNames: (dir: string) => string[] | undefined
  /** The walk read (part of, when `sharded`) the directory at `dir` and met `names`. */
  entries: (dir: string, names: string[], sharded: boolean) => void
  /** The error for an entry that must be a directory and is a file. */
  notADirectory: (path: string) => Error
  /** Once the walk ended: the error the selection ends with, if any. */
  problem: () => Error | undefined
}

/**
 * A selection as one download applies it: decisions, plus what the walk met, for the error
 * a PATH that is not there or globs that match nothing get when the walk ends.
 */
export class Selector implements EntryFilter {
  readonly selection: Selection
  private readonly root: string
  /** Names met in the directories above the base (a few each), for the "no entry" error. */
  private readonly met = new Map<string, { names: string[], count: number, sharded: boolean }>()
  private reached: boolean
  private matched = 0

  constructor (selection: Selection, root: string) {
    this.selection = selection
    this.root = root
    this.reached = selection.base.length === 0
  }

  /** Decides the entry at `path`, keeping count of what was selected. */
  decide (path: string): Decision {
    const d = decide(this.selection, path)
    if (d !== 'skip' && segments(path).length === this.selection.base.length) this.reached = true
    if (d === 'all') this.matched++
    return d
  }

  mustBeDirectory (path: string): boolean { return mustBeDirectory(this.selection, path) }

  wantedNames (dir: string): string[] | undefined { return wantedNames(this.selection, dir) }

  /** The walk read (part of, when `sharded`) the directory at `dir` and met `names`. */
  entries (dir: string, names: string[], sharded: boolean): void {
    if (segments(dir).length >= this.selection.base.length) return
    const seen = this.met.get(dir) ?? { names: [], count: 0, sharded }
    seen.count += names.length
    seen.names.push(...names.slice(0, NAMES_SHOWN - seen.names.length))
    this.met.set(dir, seen)
  }

  /** The error for an entry on the way that turned out to be a file. */
  notADirectory (path: string): SelectionNotFoundError {
    const where = path === '' ? this.root : `${this.root}/${path}`
    const next = this.selection.base[segments(path).length]
    return next != null
      ? new SelectionNotFoundError(`${where} is a file, not a directory: it has no entry '${next}'`)
      : new SelectionNotFoundError(`${where} is a file, not a directory: --only selects inside a directory`)
  }

  /** Once the walk ended: the error when the PATH is not there or the globs matched nothing. */
  problem (): SelectionNotFoundError | undefined {
    const { base, globs } = this.selection
    if (!this.reached) {
      // the deepest directory on the way that the walk read
      let depth = base.length - 1
      while (depth > 0 && !this.met.has(base.slice(0, depth).join('/'))) depth--
      const dir = base.slice(0, depth).join('/')
      const seen = this.met.get(dir)
      const where = dir === '' ? this.root : `${this.root}/${dir}`
      let list = ''
      if (seen != null && !seen.sharded) {
        list = seen.count === 0 ? '; it is empty' : `; entries: ${seen.names.join(', ')}${seen.count > seen.names.length ? `, … (${seen.count} in all)` : ''}`
      }
      return new SelectionNotFoundError(`no entry '${base[depth] ?? ''}' in ${where}${list}`)
    }
    if (globs.length > 0 && this.matched === 0) {
      const where = base.length === 0 ? this.root : `${this.root}/${base.join('/')}`
      return new SelectionNotFoundError(`--only ${globs.map(g => `'${g}'`).join(' ')} matches nothing in ${where}`)
    }
    return undefined
  }
}
