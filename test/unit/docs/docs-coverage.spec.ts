/**
 * The reference documents cover the code: every route the API's router serves is described in
 * the OpenAPI document and listed in docs/api.md's route table, and every `peerd` command (with
 * each of its flags) has its section in docs/cli.md. The lists come from the code (the router's
 * route table, the CLI's command table), so a new route or flag without docs fails here.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { openApiDocument } from '../../../src/api/openapi.ts'
import { apiRoutes } from '../../../src/api/routes.ts'
import type { RouteDeps } from '../../../src/api/routes.ts'
import { COMMANDS } from '../../../src/cli/main.ts'

const docs = new URL('../../../docs/', import.meta.url)

/** The routes as the daemon builds them; building the table calls nothing on its dependencies. */
function servedRoutes (): Array<{ method: string, path: string }> {
  const deps = { node: {}, auth: {}, feed: {}, apiUrl: () => '', requestStop: () => {} } as unknown as RouteDeps
  return apiRoutes(deps).map(r => ({ method: r.method, path: r.path }))
}

/** `METHOD path` of every row of docs/api.md's route table (`| GET | [`/api/v1/id`](#…) | …`). */
function apiMdRows (text: string): string[] {
  const rows: string[] = []
  for (const line of text.split('\n')) {
    const m = /^\| (GET|POST) \| \[?`(\/api\/[^`?]*)/.exec(line)
    if (m != null) rows.push(`${m[1] as string} ${m[2] as string}`)
  }
  return rows
}

/** docs/cli.md split at its `## \`peerd NAME\`` headings: NAME → the section's text. */
function cliSections (text: string): Map<string, string> {
  const sections = new Map<string, string>()
  const parts = text.split(/^## `peerd ([a-z-]+)`$/m)
  for (let i = 1; i < parts.length; i += 2) sections.set(parts[i] as string, parts[i + 1] as string)
  return sections
}

describe('the reference documents cover the code', () => {
  it('the router serves some routes (the table was read)', () => {
    const routes = servedRoutes()
    assert.ok(routes.length >= 30, `only ${routes.length} routes found`)
    assert.ok(routes.some(r => r.path === '/api/v1/share'))
  })

  it('every route the router serves is in the OpenAPI document, and the document describes no other', () => {
    const paths = (openApiDocument() as { paths: Record<string, Record<string, unknown>> }).paths
    const served = servedRoutes().map(r => `${r.method} ${r.path}`).sort()
    const described = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map(m => `${m.toUpperCase()} ${path}`)).sort()
    assert.deepEqual(served.filter(r => !described.includes(r)), [], 'routes missing from src/api/openapi.ts')
    assert.deepEqual(described.filter(r => !served.includes(r)), [], 'OpenAPI operations no route serves')
  })

  it('every route the router serves is a row of docs/api.md\'s route table, and every row is served', async () => {
    const rows = apiMdRows(await readFile(new URL('api.md', docs), 'utf8'))
    const served = servedRoutes().map(r => `${r.method} ${r.path}`)
    assert.deepEqual(served.filter(r => !rows.includes(r)), [], 'routes missing from docs/api.md')
    assert.deepEqual(rows.filter(r => !served.includes(r)), [], 'rows of docs/api.md no route serves')
  })

  it('every CLI command has a section in docs/cli.md naming each of its flags, and every section is a command', async () => {
    const sections = cliSections(await readFile(new URL('cli.md', docs), 'utf8'))
    const names = COMMANDS.map(c => c.name)
    assert.deepEqual(names.filter(n => !sections.has(n)), [], 'commands without a section in docs/cli.md')
    assert.deepEqual([...sections.keys()].filter(n => !names.includes(n)), [], 'sections of docs/cli.md that are no command')
    for (const cmd of COMMANDS) {
      const text = sections.get(cmd.name) as string
      const missing = Object.keys(cmd.options).filter(flag => !text.includes(`--${flag}`))
      assert.deepEqual(missing, [], `flags of "peerd ${cmd.name}" missing from its section of docs/cli.md`)
    }
  })
})
