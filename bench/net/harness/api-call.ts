/**
 * A minimal client for a daemon's HTTP API, run inside the daemon's namespace (the API listens
 * on 127.0.0.1 there, which only that namespace reaches). Much lighter to start than the `peerd`
 * CLI, so the harness can poll and start many downloads at once.
 *
 * ```
 * node api-call.ts DATA_DIR METHOD PATH [JSON_BODY] [--wait-stdin]
 * ```
 *
 * Prints the response body as it arrives (NDJSON streams line by line), then one line
 * `{"event":"client","status":S,"seconds":T}` with the time from sending the request to the end
 * of the body. With `--wait-stdin` it sends the request only once a line arrives on stdin, so
 * many downloads can be started at one moment (it prints `{"event":"ready"}` while it waits). Exits 0 on a 2xx answer, 1 otherwise.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const args = process.argv.slice(2).filter(a => a !== '--wait-stdin')
const waitStdin = process.argv.includes('--wait-stdin')
const [dataDir, method, path, body] = args
if (dataDir == null || method == null || path == null) {
  process.stderr.write('usage: api-call.ts DATA_DIR METHOD PATH [JSON_BODY] [--wait-stdin]\n')
  process.exit(2)
}
const url = (await readFile(join(dataDir, 'api'), 'utf8')).trim()
const cookie = (await readFile(join(dataDir, 'cookie'), 'utf8')).trim()
if (waitStdin) {
  process.stdout.write(JSON.stringify({ event: 'ready' }) + '\n')
  await new Promise<void>(resolve => { createInterface({ input: process.stdin }).once('line', () => { resolve() }) })
}
const t0 = performance.now()
const res = await fetch(url + path, {
  method,
  headers: { authorization: `Bearer ${cookie}`, ...(body == null ? {} : { 'content-type': 'application/json' }) },
  body
})
if (res.body != null) {
  for await (const chunk of res.body) process.stdout.write(chunk)
}
const seconds = (performance.now() - t0) / 1000
process.stdout.write(`\n${JSON.stringify({ event: 'client', status: res.status, seconds })}\n`)
process.exitCode = res.ok ? 0 : 1
// stdin may still be open: do not wait for it
process.stdin.destroy()
