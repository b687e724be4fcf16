/**
 * The file picker of a folder CID, as BitTorrent clients let users pick files: the folder's
 * tree (from `GET /api/v1/tree`, which fetches folder nodes only) with a checkbox per entry; a
 * checked folder takes everything under it. The get then starts with `only` set to the checked
 * paths, written as globs that match those names alone.
 */
import { useEffect, useState } from 'preact/hooks'
import { get } from '../api.ts'
import { formatBytes } from '../format.ts'
import type { Tree } from '../types.ts'
import { ErrorText, messageOf } from '../ui.tsx'

/** A path as a glob matching it alone: the characters globs treat specially go in brackets. */
export function literalGlob (path: string): string {
  return path.replace(/[*?[{(]/g, c => `[${c}]`)
}

/** Whether `path` is under one of the `checked` folders. */
function covered (path: string, checked: Set<string>): boolean {
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    if (checked.has(path.slice(0, i))) return true
  }
  return false
}

/** Props of {@link FilePicker}. */
export interface FilePickerProps {
  cid: string
  /** The user chose: the globs to get. */
  onPick: (only: string[]) => void
  onCancel: () => void
}

/** See the module comment. */
export function FilePicker ({ cid, onPick, onCancel }: FilePickerProps) {
  const [tree, setTree] = useState<Tree | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [checked, setChecked] = useState<Set<string>>(new Set())
  useEffect(() => {
    let live = true
    setTree(null)
    setError(null)
    setChecked(new Set())
    get<Tree>(`/api/v1/tree?cid=${encodeURIComponent(cid)}`).then((t) => { if (live) setTree(t) }, (err: unknown) => { if (live) setError(messageOf(err)) })
    return () => { live = false }
  }, [cid])
  const toggle = (path: string): void => {
    const next = new Set(checked)
    if (next.has(path)) next.delete(path)
    else next.add(path)
    setChecked(next)
  }
  const picked = [...checked].filter(p => !covered(p, checked))
  return (
    <div class='file-picker' data-cid={cid}>
      {error != null && <ErrorText error={error} />}
      {tree == null && error == null && <p class='muted'>Reading the folder…</p>}
      {tree != null && (
        <>
          <ul class='file-tree'>
            {tree.entries.map(e => {
              const depth = e.path.split('/').length - 1
              const inside = covered(e.path, checked)
              const name = e.path.slice(e.path.lastIndexOf('/') + 1)
              return (
                <li key={e.path} data-path={e.path} data-type={e.type} style={{ paddingLeft: `${depth * 1.25}rem` }}>
                  <label>
                    <input type='checkbox' checked={inside || checked.has(e.path)} disabled={inside} onChange={() => { toggle(e.path) }} />
                    {' '}{e.type === 'directory' ? `${name}/` : name}
                    {e.type === 'file' && <span class='muted'> {formatBytes(e.size)}</span>}
                  </label>
                </li>
              )
            })}
          </ul>
          {tree.truncated && <p class='muted'>The folder is larger than the list shows.</p>}
          <div class='row'>
            <button type='button' disabled={picked.length === 0} onClick={() => { onPick(picked.map(literalGlob)) }}>Get {picked.length} selected</button>
            <button type='button' class='small' onClick={onCancel}>Cancel</button>
          </div>
        </>
      )}
      {tree == null && <button type='button' class='small' onClick={onCancel}>Cancel</button>}
    </div>
  )
}
