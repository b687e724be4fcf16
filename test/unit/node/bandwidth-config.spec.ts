/**
 * The bandwidth caps' settings at the edges: `config.json` takes rates as numbers or with units
 * and a schedule, validated with messages naming the field; the daemon's flags take units; the
 * API's body is checked the same way; `peerd bandwidth` prints what is in force and why.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { limitsChangeOf } from '../../../src/api/bandwidth-routes.ts'
import { capOption, showLimits } from '../../../src/cli/commands/bandwidth.ts'
import { daemonConfigFromArgs } from '../../../src/cli/commands/daemon.ts'
import { daemon } from '../../../src/cli/commands/daemon.ts'
import { parseCommandArgs } from '../../../src/cli/command.ts'
import { readConfigFile, resolveDaemonConfig } from '../../../src/daemon/config.ts'
import { tempDir } from '../../utils/index.ts'

describe('bandwidth settings', () => {
  it('config.json takes rates with units and a schedule; flags win', async () => {
    const d = await tempDir()
    try {
      await writeFile(join(d.path, 'config.json'), JSON.stringify({
        network: 'regtest',
        maxUpload: '2MB',
        maxDownload: 1_000_000,
        bandwidthSchedule: [{ days: 'mon-fri', from: '08:00', to: '18:00', maxUpload: '500kB' }]
      }))
      const file = await readConfigFile(d.path)
      const config = resolveDaemonConfig({ ...file, dataDir: d.path })
      assert.equal(config.maxUpload, 2_000_000)
      assert.equal(config.maxDownload, 1_000_000)
      assert.deepEqual(config.bandwidthSchedule, [{ days: 'mon-fri', from: '08:00', to: '18:00', maxUpload: 500_000 }])

      const ctx = parseCommandArgs(daemon, ['--max-upload', '20Mbit', '--data-dir', d.path])
      const flagged = await daemonConfigFromArgs(ctx)
      assert.equal(flagged.maxUpload, 2_500_000)
      assert.equal(flagged.maxDownload, 1_000_000)

      await writeFile(join(d.path, 'config.json'), JSON.stringify({ maxUpload: 'fast' }))
      await assert.rejects(readConfigFile(d.path), /"maxUpload" must be bytes per second/)
      await writeFile(join(d.path, 'config.json'), JSON.stringify({ bandwidthSchedule: [{ days: 'weekdays', from: '08:00', to: '18:00', maxUpload: 1 }] }))
      const bad = await readConfigFile(d.path)
      assert.throws(() => resolveDaemonConfig({ ...bad, dataDir: d.path }), (e: Error) => e.name === 'InvalidArgumentError' && /bandwidthSchedule\[0\]: "days"/.test(e.message))
      assert.throws(() => resolveDaemonConfig({ maxUpload: -1, dataDir: d.path }), /maxUpload must be 0 \(unlimited\) or a whole number/)
      // below 10 kB/s one block takes minutes
      assert.throws(() => resolveDaemonConfig({ maxDownload: 5_000, dataDir: d.path }), /maxDownload must be 0 \(unlimited\) or a whole number of bytes per second from 10000/)
    } finally {
      await d.cleanup()
    }
  })

  it('flags and the API body take units and refuse anything else, naming the field', () => {
    assert.equal(capOption('5MB', '--max-upload'), 5_000_000)
    assert.equal(capOption('0', '--max-upload'), 0)
    assert.throws(() => capOption('5Mb', '--max-download'), (e: Error) => e.name === 'UsageError' && e.message.startsWith('--max-download takes'))
    assert.deepEqual(limitsChangeOf({ maxUpload: '1MB', maxDownload: 0 }), { maxUpload: 1_000_000, maxDownload: 0 })
    assert.throws(() => limitsChangeOf({ maxUpload: 'lots' }), (e: Error) => e.name === 'InvalidArgumentError' && /"maxUpload"/.test(e.message))
    assert.throws(() => limitsChangeOf({ maxUplaod: 1 }), /unknown field "maxUplaod"/)
    assert.throws(() => limitsChangeOf([]), /JSON object/)
  })

  it('peerd bandwidth shows the caps in force, the entry that set them, and the global ones', () => {
    const lines = showLimits({
      maxUpload: 2_000_000,
      maxDownload: 0,
      schedule: [{ days: 'mon-fri', from: '08:00', to: '18:00', maxUpload: 500_000 }],
      activeEntry: 0,
      effective: { maxUpload: 500_000, maxDownload: 0 },
      totals: { bytesIn: 0, bytesOut: 1024 }
    })
    assert.equal(lines[0], 'upload:    500 kB/s (4 Mbit/s) (schedule)')
    assert.equal(lines[1], 'download:  unlimited')
    assert.match(lines[2] as string, /global: +upload 2 MB\/s \(16 Mbit\/s\), download unlimited/)
    assert.match(lines[4] as string, /^ {2}\* mon-fri 08:00-18:00 {2}upload 500 kB\/s/)
  })
})
