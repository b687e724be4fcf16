/**
 * Downloads started from this page. They live outside the Share panel so that leaving the
 * panel doesn't lose them; closing the page cancels them (the daemon keeps what arrived, and
 * the next get of the same CID resumes).
 */
import { useEffect, useState } from 'preact/hooks'
import { fetchContent } from './api.ts'
import type { Progress } from './types.ts'

/** One download and how it is going. */
export interface Download {
  cid: string
  startedAt: number
  state: 'running' | 'done' | 'failed'
  progress?: Progress
  result?: { size: number, peers: number, seconds: number }
  error?: string
  /** Highest percentage shown so far. */
  percent: number
  /** The entries picked (`only` globs), when not the whole CID. */
  only?: string[]
}

const downloads = new Map<string, Download>()
const listeners = new Set<() => void>()

function changed (): void {
  for (const l of listeners) l()
}

function update (cid: string, patch: Partial<Download>): void {
  const d = downloads.get(cid)
  if (d == null) return
  downloads.set(cid, { ...d, ...patch })
  changed()
}

/**
 * Starts fetching `cid` into the node (through `link`'s providers, when given; only the entries
 * `only` matches, when given), unless this page already is.
 */
export function startDownload (cid: string, options: { link?: string, only?: string[] } = {}): void {
  const { link, only } = options
  const running = downloads.get(cid)
  if (running?.state === 'running') return
  downloads.set(cid, { cid, startedAt: Date.now(), state: 'running', percent: 0, ...(only != null && only.length > 0 ? { only } : {}) })
  changed()
  fetchContent(cid, (line) => {
    if (line.event !== 'progress') return
    const percent = line.total > 0 ? Math.min(100, Math.floor(line.bytes / line.total * 100)) : 0
    update(cid, { progress: line, percent: Math.max(percent, downloads.get(cid)?.percent ?? 0) })
  }, undefined, { link, only }).then((last) => {
    if (last.event === 'done') update(cid, { state: 'done', percent: 100, result: { size: last.size, peers: last.peers, seconds: last.seconds } })
    else if (last.event === 'error') update(cid, { state: 'failed', error: last.error.message })
  }, (err: unknown) => {
    update(cid, { state: 'failed', error: err instanceof Error ? err.message : String(err) })
  })
}

/** Forgets a finished download. */
export function dismissDownload (cid: string): void {
  if (downloads.get(cid)?.state === 'running') return
  downloads.delete(cid)
  changed()
}

/** The downloads, newest first, re-rendering on every change. */
export function useDownloads (): Download[] {
  const [, setTick] = useState(0)
  useEffect(() => {
    const l = (): void => { setTick(t => t + 1) }
    listeners.add(l)
    return () => { listeners.delete(l) }
  }, [])
  return [...downloads.values()].sort((a, b) => b.startedAt - a.startedAt)
}
