/**
 * A node asked to listen on IPv6 where it can't (here an IPv6 address the machine does not hold,
 * EADDRNOTAVAIL, as a host without IPv6 fails with EAFNOSUPPORT) still starts on its IPv4
 * addresses and logs one warning naming the IPv6 ones, rather than refusing to start.
 */
import assert from 'node:assert/strict'
import { networkInterfaces } from 'node:os'
import { describe, it } from 'node:test'
import { createLogger } from '../../src/utils/logger.ts'
import { startTestNode } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const hasLoopback6 = Object.values(networkInterfaces()).flat().some(i => i?.address === '::1')

describe('listening without IPv6', () => {
  const td = teardown()

  it('starts on IPv4 alone and warns once when every IPv6 listen address fails', async () => {
    const lines: string[] = []
    const logger = createLogger({ level: 'warn', pretty: false, write: (line) => { lines.push(line) } })
    const unheld = '/ip6/fd00:dead:beef::99/tcp/0'
    const node = await startTestNode({ dataDir: await td.dir(), listen: ['/ip4/127.0.0.1/tcp/0', unheld, `${unheld}/ws`], logger })
    td.add(async () => { await node.stop() }, 'stop the node')
    assert.equal(node.running, true)
    assert.ok(node.addresses().length > 0 && node.addresses().every(a => a.startsWith('/ip4/127.0.0.1/tcp/')), node.addresses().join(' '))
    const warnings = lines.filter(l => l.includes('IPv6 is not available'))
    assert.equal(warnings.length, 1, lines.join('\n'))
    assert.deepEqual((JSON.parse(warnings[0] as string) as { skipped: string[] }).skipped, [unheld, `${unheld}/ws`])
  })

  it('says nothing when IPv6 listens', { skip: hasLoopback6 ? false : 'this machine has no ::1' }, async () => {
    const lines: string[] = []
    const logger = createLogger({ level: 'warn', pretty: false, write: (line) => { lines.push(line) } })
    const node = await startTestNode({ dataDir: await td.dir(), listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'], logger })
    td.add(async () => { await node.stop() }, 'stop the node')
    assert.ok(node.addresses().some(a => a.startsWith('/ip6/::1/tcp/')), node.addresses().join(' '))
    assert.deepEqual(lines.filter(l => l.includes('IPv6')), [])
  })
})
