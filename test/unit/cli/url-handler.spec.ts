/**
 * `peerd link --register` (src/cli/url-handler.ts): the desktop entry that makes `peerd get` the
 * handler of peerd:// links, written where the desktop looks for it, with an Exec line quoted
 * by the desktop entry spec, and xdg-mime asked to make it the default when it is installed.
 */
import assert from 'node:assert/strict'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DESKTOP_FILE, execArg, registerUrlHandler } from '../../../src/cli/url-handler.ts'
import { teardown } from '../../utils/teardown.ts'

describe('peerd:// handler registration', () => {
  const td = teardown()

  it('writes the desktop entry and runs xdg-mime default with it', async () => {
    const home = await td.dir('peerd-url-handler-')
    const bin = join(home, 'bin')
    await mkdir(bin)
    await mkdir(join(home, 'Downloads'))
    // a stand-in xdg-mime that records how it was called
    await writeFile(join(bin, 'xdg-mime'), `#!/bin/sh\necho "$@" > "${join(home, 'xdg-mime-args')}"\n`)
    await chmod(join(bin, 'xdg-mime'), 0o755)
    const r = await registerUrlHandler({ command: ['/opt/node 24/bin/node', '/srv/peerd/bin/peerd.js'], dataDir: '/data/100%$x', env: { HOME: home, PATH: bin } })
    assert.equal(r.file, join(home, '.local', 'share', 'applications', DESKTOP_FILE))
    assert.equal(r.xdgMime, 'set')
    assert.equal((await readFile(join(home, 'xdg-mime-args'), 'utf8')).trim(), `default ${DESKTOP_FILE} x-scheme-handler/peerd`)
    const entry = await readFile(r.file, 'utf8')
    assert.match(entry, /^\[Desktop Entry\]\n/)
    assert.match(entry, /\nMimeType=x-scheme-handler\/peerd;\n/)
    assert.match(entry, /\nTerminal=true\n/)
    assert.ok(entry.includes(`\nPath=${join(home, 'Downloads')}\n`), entry)
    assert.ok(entry.includes('\nExec="/opt/node 24/bin/node" "/srv/peerd/bin/peerd.js" "get" "--data-dir" "/data/100%%\\\\$x" %u\n'), entry)
  })

  it('without xdg-mime, writes the entry under XDG_DATA_HOME and says xdg-mime is missing', async () => {
    const home = await td.dir('peerd-url-handler-')
    const r = await registerUrlHandler({ command: ['/usr/bin/node'], dataDir: '/d', env: { HOME: home, XDG_DATA_HOME: join(home, 'xdg'), PATH: join(home, 'nothing') } })
    assert.equal(r.file, join(home, 'xdg', 'applications', DESKTOP_FILE))
    assert.equal(r.xdgMime, 'missing')
    assert.match(await readFile(r.file, 'utf8'), new RegExp(`\\nPath=${home}\\n`))
  })

  it('quotes Exec arguments by the spec and refuses control characters', () => {
    assert.equal(execArg('a b'), '"a b"')
    assert.equal(execArg('say "hi" `x` $y \\'), '"say \\\\"hi\\\\" \\\\`x\\\\` \\\\$y \\\\\\\\"')
    assert.equal(execArg('50%'), '"50%%"')
    assert.throws(() => execArg('a\nb'), { name: 'InvalidArgumentError' })
  })
})
