// Run inside a test's network namespace: send COUNT mDNS queries for the layerd service
// (PTR `layerd`), INTERVAL ms apart, from an ephemeral port (so as not to hear the answers):
//   node mdns-burst.js [count=5] [intervalMs=20] [serviceTag=layerd]
// A hand-made DNS query: header (id 0, no flags, one question), the name, type PTR, class IN.

import { createSocket } from 'node:dgram'

const count = Number(process.argv[2] ?? 5)
const intervalMs = Number(process.argv[3] ?? 20)
const tag = process.argv[4] ?? 'layerd'

const header = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
const labels = Buffer.concat([...tag.split('.').map(l => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])])
const query = Buffer.concat([header, labels, Buffer.from([0, 12, 0, 1])])

const socket = createSocket('udp4')
socket.bind(0, () => {
  let sent = 0
  const next = (): void => {
    socket.send(query, 5353, '224.0.0.251', () => {
      if (++sent >= count) { socket.close(); return }
      setTimeout(next, intervalMs)
    })
  }
  next()
})
