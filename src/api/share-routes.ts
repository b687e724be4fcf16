/**
 * Share routes of the API: share, add (upload), get (NDJSON progress stream), cat (byte
 * stream), tree (a directory's listing, for the dashboard's file picker), ls, unshare, gc and
 * transfers.
 */
import { checkRate } from '../net/bandwidth-schedule.ts'
import { once } from 'node:events'
import { isAbsolute } from 'node:path'
import type { Multiaddr } from '@multiformats/multiaddr'
import { errorToJson, InvalidArgumentError } from '../errors.ts'
import type { PeerdNode } from '../node/node.ts'
import { parseLink } from '../share/link.ts'
import type { LinkStyle } from '../share/link.ts'
import { apiStatus } from './http-status.ts'
import { HANDLED } from './router.ts'
import type { Route } from './router.ts'
import type { Root, Transfer, Tree } from './types.ts'

function field (body: unknown, key: string, kind: 'string' | 'number', required: boolean): unknown {
  const v = (body as Record<string, unknown> | undefined)?.[key]
  if (v == null) {
    if (required) throw new InvalidArgumentError(`request body must be a JSON object with a ${kind} "${key}"`)
    return undefined
  }
  if (typeof v !== kind || (kind === 'string' && v === '')) throw new InvalidArgumentError(`"${key}" must be a ${kind === 'string' ? 'non-empty string' : 'number'}`)
  return v
}

function intParam (url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name)
  if (v == null) return undefined
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`query parameter ${name} must be a whole number`)
  return Number(v)
}

const LINK_STYLES: readonly string[] = ['peerd', 'web+peerd', 'plain']

/**
 * The CID of a get and its provider hints: from `cid`, or from `link` (a share link, or a CID),
 * not both. A link into a directory (`CID/PATH`) brings its path (a selective get).
 */
function cidOrLink (body: unknown): { cid: string, providers: Multiaddr[], path?: string } {
  const cid = field(body, 'cid', 'string', false) as string | undefined
  const text = field(body, 'link', 'string', false) as string | undefined
  if ((cid == null) === (text == null)) throw new InvalidArgumentError('request body must have either a "cid" or a "link" (a peerd:// link), not both')
  if (cid != null) return { cid, providers: [] }
  const link = parseLink(text as string)
  return { cid: link.cid.toString(), providers: link.providers, ...(link.path != null ? { path: link.path } : {}) }
}

/** The share routes. */
export function shareRoutes (node: PeerdNode): Route[] {
  return [
    {
      method: 'POST',
      path: '/api/v1/share',
      handler: async ({ body }) => {
        const path = field(body, 'path', 'string', true) as string
        if (!isAbsolute(path)) throw new InvalidArgumentError(`"path" must be absolute (the daemon's working directory is not yours): ${path}`)
        const hidden = (body as { hidden?: unknown }).hidden
        if (hidden != null && typeof hidden !== 'boolean') throw new InvalidArgumentError('"hidden" must be a boolean')
        const privately = (body as { private?: unknown }).private
        if (privately != null && typeof privately !== 'boolean') throw new InvalidArgumentError('"private" must be a boolean')
        return await node.share.share(path, { hidden: hidden === true, private: privately === true })
      }
    },
    {
      method: 'POST',
      path: '/api/v1/add',
      body: 'raw',
      handler: async ({ stream, url }) => {
        const name = url.searchParams.get('name') ?? 'upload'
        return await node.share.add(name, stream)
      }
    },
    {
      method: 'POST',
      path: '/api/v1/get',
      handler: async ({ body, req, res }) => {
        const { cid, providers, path: linkPath } = cidOrLink(body)
        const output = field(body, 'output', 'string', false) as string | undefined
        const timeoutSeconds = field(body, 'timeoutSeconds', 'number', false) as number | undefined
        if (output != null && !isAbsolute(output)) throw new InvalidArgumentError(`"output" must be an absolute path: ${output}`)
        if (timeoutSeconds != null && !(timeoutSeconds > 0 && timeoutSeconds <= 86_400)) throw new InvalidArgumentError('"timeoutSeconds" must be from 1 to 86400')
        const privately = (body as { private?: unknown }).private
        if (privately != null && typeof privately !== 'boolean') throw new InvalidArgumentError('"private" must be a boolean')
        const maxRate = (body as { maxRate?: unknown }).maxRate
        if (maxRate != null) checkRate(maxRate, '"maxRate"')
        const asked = field(body, 'path', 'string', false) as string | undefined
        if (asked != null && linkPath != null) throw new InvalidArgumentError('the link names a path inside its CID already: drop "path", or use the link without its path')
        const path = asked ?? linkPath
        const only = (body as { only?: unknown }).only
        if (only != null && !(Array.isArray(only) && only.every(g => typeof g === 'string'))) throw new InvalidArgumentError('"only" must be an array of glob strings')
        const abort = new AbortController()
        // the client went away (Ctrl-C): stop; what was fetched stays for a resume
        res.on('close', () => { if (!res.writableFinished) abort.abort() })
        const started = node.share.get(cid, { output, timeoutSeconds, signal: abort.signal, private: privately === true, ...(maxRate != null ? { maxRate: maxRate as number } : {}), ...(providers.length > 0 ? { providers } : {}), ...(path != null ? { path } : {}), ...(only != null ? { only: only as string[] } : {}) })
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
        const line = (v: unknown): void => { res.write(JSON.stringify(v) + '\n') }
        const timer = setInterval(() => {
          const p = node.share.progressOf(cid)
          if (p != null) line({ event: 'progress', ...p })
        }, 200)
        try {
          const result = await started
          line({ event: 'done', ...result })
        } catch (err) {
          line({ event: 'error', error: errorToJson(err), status: apiStatus(err) })
        } finally {
          clearInterval(timer)
          res.end()
        }
        void req
        return HANDLED
      }
    },
    {
      method: 'GET',
      path: '/api/v1/cat',
      navigable: true,
      handler: async ({ url, res }) => {
        const cid = url.searchParams.get('cid')
        if (cid == null || cid === '') throw new InvalidArgumentError('query parameter cid is required')
        const abort = new AbortController()
        res.on('close', () => { if (!res.writableFinished) abort.abort() })
        const it = node.share.cat(cid, {
          path: url.searchParams.get('path') ?? undefined,
          offset: intParam(url, 'offset'),
          length: intParam(url, 'length'),
          timeoutSeconds: intParam(url, 'timeout'),
          signal: abort.signal
        })[Symbol.asyncIterator]()
        // the first chunk decides between an error response and a stream
        const first = await it.next()
        // the dashboard's download link opens this on the API's origin: keep the bytes inert there too
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': 'sandbox' })
        try {
          // waits for drain end when the client leaves (the abort), so nothing is left hanging
          if (first.done !== true) {
            if (!res.write(first.value)) await once(res, 'drain', { signal: abort.signal })
            for (let r = await it.next(); r.done !== true; r = await it.next()) {
              if (!res.write(r.value)) await once(res, 'drain', { signal: abort.signal })
            }
          }
          res.end()
        } catch (err) {
          if (!abort.signal.aborted) node.log.debug('cat stream failed', { err })
          res.destroy()
        } finally {
          await it.return?.(undefined) // runs the reader's cleanup: releases its download
        }
        return HANDLED
      }
    },
    {
      method: 'GET',
      path: '/api/v1/link',
      handler: async ({ url }) => {
        const cid = url.searchParams.get('cid')
        if (cid == null || cid === '') throw new InvalidArgumentError('query parameter cid is required')
        const style = url.searchParams.get('style') ?? 'peerd'
        if (!LINK_STYLES.includes(style)) throw new InvalidArgumentError(`query parameter style must be one of ${LINK_STYLES.join(', ')}`)
        const name = url.searchParams.get('name')
        return await node.share.link(cid, { style: style as LinkStyle, ...(name != null && name !== '' ? { name } : {}) })
      }
    },
    {
      method: 'GET',
      path: '/api/v1/tree',
      handler: async ({ url, res }) => {
        const cid = url.searchParams.get('cid')
        if (cid == null || cid === '') throw new InvalidArgumentError('query parameter cid is required')
        const abort = new AbortController()
        res.on('close', () => { if (!res.writableFinished) abort.abort() })
        return await node.share.tree(cid, { depth: intParam(url, 'depth'), entries: intParam(url, 'entries'), timeoutSeconds: intParam(url, 'timeout'), signal: abort.signal }) satisfies Tree
      }
    },
    {
      method: 'GET',
      path: '/api/v1/ls',
      handler: async () => await node.share.ls() satisfies Root[]
    },
    {
      method: 'POST',
      path: '/api/v1/unshare',
      handler: async ({ body }) => await node.share.unshare(field(body, 'cid', 'string', true) as string)
    },
    {
      method: 'POST',
      path: '/api/v1/gc',
      handler: async () => await node.share.gc()
    },
    {
      method: 'GET',
      path: '/api/v1/transfers',
      handler: () => node.share.transfers() satisfies Transfer[]
    }
  ]
}
