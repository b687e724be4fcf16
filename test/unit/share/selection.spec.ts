/**
 * The selection of a selective get (`get CID/PATH`, `--only GLOB`): which directory entries are
 * fetched, entered or skipped, which HAMT buckets lead to a name, and the errors for bad input
 * and for selections that find nothing.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { importer } from 'ipfs-unixfs-importer'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { decode as decodeDagPb } from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import {
  checkGlob, couldMatchBelow, decide, InvalidSelectionError, MAX_GLOBS, MAX_PATH_LENGTH, mustBeDirectory,
  parseSelection, selectionKey, SelectionNotFoundError, Selector, shardBucket, splitPath, wantedNames
} from '../../../src/share/session/selection.ts'
import type { Selection } from '../../../src/share/session/selection.ts'

function sel (path?: string, only?: string[]): Selection {
  const s = parseSelection(path, only)
  assert.ok(s != null)
  return s
}

describe('selection', () => {
  it('parses PATH and globs, and selects nothing less than the root without them', () => {
    assert.equal(parseSelection(), undefined)
    assert.equal(parseSelection('/', []), undefined)
    assert.deepEqual(sel('/docs/a.pdf/'), { base: ['docs', 'a.pdf'], globs: [] })
    assert.deepEqual(sel(undefined, ['./**/**/*.pdf', '*.txt', '*.txt']), { base: [], globs: ['**/*.pdf', '*.txt'] })
    assert.equal(selectionKey(sel('docs', ['*.pdf', 'sub'])), 'docs only *.pdf, sub')
    assert.equal(selectionKey(sel(undefined, ['**/*.pdf'])), 'only **/*.pdf')
    assert.equal(selectionKey(sel('docs/a.pdf')), 'docs/a.pdf')
  })

  it('refuses .. and . segments, NUL, backslashes, absolute globs and over-long input', () => {
    for (const bad of ['../etc', 'docs/../x', 'a/./b', 'a\0b', 'a\\b']) {
      assert.throws(() => splitPath(bad), InvalidSelectionError, bad)
    }
    assert.throws(() => splitPath('a'.repeat(MAX_PATH_LENGTH + 1)), /over the 4096/)
    assert.throws(() => splitPath(Array(65).fill('a').join('/')), /segments/)
    assert.throws(() => checkGlob('/abs/*'), /without a leading/)
    assert.throws(() => checkGlob('**/../x'), /'\.\.'/)
    assert.throws(() => checkGlob('./'), /non-empty/)
    assert.throws(() => checkGlob('x'.repeat(1025)), /over the 1024/)
    assert.throws(() => parseSelection(undefined, Array.from({ length: MAX_GLOBS + 1 }, (_, i) => `f${i}`)), /globs, over/)
  })

  it('refuses globs whose matching could take unbounded time', () => {
    assert.throws(() => checkGlob('{1..100000}'), /brace ranges/)
    assert.throws(() => checkGlob('{a,b}'.repeat(9)), /more than 256 patterns/)
    assert.equal(checkGlob('{a,b}'.repeat(8)), '{a,b}'.repeat(8))
    assert.throws(() => checkGlob('+(a|b)'), /extglobs/)
    assert.throws(() => checkGlob('docs/!(x).pdf'), /extglobs/)
    assert.throws(() => checkGlob('*a*a*a*a*a*a*a*a*b'), /more than 8 '\*'/)
    assert.equal(checkGlob('photo (1).jpg'), 'photo (1).jpg')
    // many ** against a deep path: memoised, so quick
    const started = Date.now()
    assert.equal(couldMatchBelow(Array(60).fill('d'), [...Array(30).fill(['**', 'x']).flat(), 'y']), true)
    assert.equal(couldMatchBelow(Array(60).fill('d'), ['**', 'x', ...Array(40).fill('**'), 'nope', 'z'].slice(0, 64)), true)
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`)
  })

  it('a PATH: enters the directories on the way, takes the entry whole, skips the rest', () => {
    const s = sel('docs/sub/a.pdf')
    assert.equal(decide(s, 'docs'), 'enter')
    assert.equal(decide(s, 'docs/sub'), 'enter')
    assert.equal(decide(s, 'docs/sub/a.pdf'), 'all')
    assert.equal(decide(s, 'docs/sub/b.pdf'), 'skip')
    assert.equal(decide(s, 'docs/other'), 'skip')
    assert.equal(decide(s, 'readme.md'), 'skip')
    assert.equal(mustBeDirectory(s, ''), true)
    assert.equal(mustBeDirectory(s, 'docs/sub'), true)
    assert.equal(mustBeDirectory(s, 'docs/sub/a.pdf'), false)
    assert.deepEqual(wantedNames(s, ''), ['docs'])
    assert.deepEqual(wantedNames(s, 'docs/sub'), ['a.pdf'])
  })

  it('globs: * within a level, ** across levels, a matching folder whole, dot names only when named', () => {
    const s = sel(undefined, ['docs/*.pdf'])
    assert.equal(decide(s, 'docs'), 'enter')
    assert.equal(decide(s, 'docs/a.pdf'), 'all')
    assert.equal(decide(s, 'docs/a.txt'), 'skip', 'a name the last segment does not match cannot hold a match')
    assert.equal(decide(s, 'docs/sub'), 'skip')
    assert.equal(decide(s, 'img'), 'skip')
    assert.deepEqual(wantedNames(s, ''), ['docs'])
    assert.equal(wantedNames(s, 'docs'), undefined, 'a wildcard: every name may match')

    const deep = sel(undefined, ['**/*.pdf'])
    assert.equal(decide(deep, 'a.pdf'), 'all')
    assert.equal(decide(deep, 'x/y/z.pdf'), 'all')
    assert.equal(decide(deep, 'x/y'), 'enter', 'a folder (or a file whose type is unknown) may hold matches')
    assert.equal(decide(deep, '.hidden.pdf'), 'enter', '* does not match a leading dot')
    assert.equal(wantedNames(deep, ''), undefined)

    const dir = sel(undefined, ['img'])
    assert.equal(decide(dir, 'img'), 'all', 'a glob naming a folder selects all of it')
    assert.equal(decide(dir, 'docs'), 'skip')
    assert.equal(decide(sel(undefined, ['.*']), '.env'), 'all')
    assert.equal(decide(sel(undefined, ['{a,b}.txt']), 'b.txt'), 'all')
    assert.equal(decide(sel(undefined, ['f-0[1-3]']), 'f-02'), 'all')
  })

  it('PATH and globs together: globs are relative to PATH', () => {
    const s = sel('docs', ['*.pdf'])
    assert.equal(decide(s, 'docs'), 'enter')
    assert.equal(decide(s, 'docs/a.pdf'), 'all')
    assert.equal(decide(s, 'a.pdf'), 'skip')
    assert.equal(mustBeDirectory(s, 'docs'), true)
    assert.deepEqual(wantedNames(s, ''), ['docs'])
  })

  it('couldMatchBelow: ** matches any number of levels', () => {
    assert.equal(couldMatchBelow(['a'], ['**', 'x']), true)
    assert.equal(couldMatchBelow(['a', 'b', 'c'], ['**', 'x']), true)
    assert.equal(couldMatchBelow(['a'], ['b', '*']), false)
    assert.equal(couldMatchBelow(['a'], ['a']), false, 'the pattern ends at a: nothing below it matches')
    assert.equal(couldMatchBelow(['a'], ['a', '**']), true)
  })

  it('shardBucket: the bucket the importer puts a name in, at each level', async () => {
    // a directory big enough to be sharded, built by the importer itself
    const store = new MemoryBlockstore()
    const names = Array.from({ length: 1500 }, (_, i) => `entry-${String(i).padStart(4, '0')}-${'x'.repeat(150)}`)
    let root
    for await (const e of importer(names.map(n => ({ path: `d/${n}`, content: new TextEncoder().encode(n) })), store, { profile: 'unixfs-v1-2025' })) if (e.path === 'd') root = e
    assert.ok(root != null)
    const chunks: Uint8Array[] = []
    for await (const c of store.get(root.cid)) chunks.push(c)
    const top = decodeDagPb(Buffer.concat(chunks))
    assert.equal(UnixFS.unmarshal(top.Data ?? new Uint8Array()).type, 'hamt-sharded-directory')
    // every name sits in the bucket (entry link prefix, or sub-shard) shardBucket gives at level 0
    let checked = 0
    for (const link of top.Links) {
      const name = link.Name ?? ''
      if (name.length === 2) continue
      assert.equal(parseInt(name.slice(0, 2), 16), shardBucket(name.slice(2), 0), name)
      checked++
    }
    assert.ok(checked > 0)
    assert.equal(shardBucket('x', 8), undefined)
  })

  it('Selector: names the missing entry and lists what the directory holds', () => {
    const s = new Selector(sel('docs/c.pdf'), 'bafyROOT')
    assert.equal(s.decide('docs'), 'enter')
    s.entries('', ['docs', 'readme.md'], false)
    s.entries('docs', ['a.pdf', 'b.pdf'], false)
    assert.equal(s.decide('docs/a.pdf'), 'skip')
    const err = s.problem()
    assert.ok(err instanceof SelectionNotFoundError)
    assert.equal(err.message, "no entry 'c.pdf' in bafyROOT/docs; entries: a.pdf, b.pdf")

    const top = new Selector(sel('nope/x'), 'bafyROOT')
    top.entries('', ['docs'], false)
    assert.equal(top.problem()?.message, "no entry 'nope' in bafyROOT; entries: docs")

    const found = new Selector(sel('docs/a.pdf'), 'bafyROOT')
    assert.equal(found.decide('docs'), 'enter')
    assert.equal(found.decide('docs/a.pdf'), 'all')
    assert.equal(found.problem(), undefined)

    const glob = new Selector(sel(undefined, ['*.iso']), 'bafyROOT')
    assert.equal(glob.decide('a.pdf'), 'skip')
    assert.equal(glob.problem()?.message, "--only '*.iso' matches nothing in bafyROOT")
    assert.equal(new Selector(sel('docs/a.pdf/x'), 'bafyROOT').notADirectory('docs/a.pdf').message, "bafyROOT/docs/a.pdf is a file, not a directory: it has no entry 'x'")
    assert.equal(new Selector(sel(undefined, ['*']), 'bafyFILE').notADirectory('').message, 'bafyFILE is a file, not a directory: --only selects inside a directory')
  })
})
