// Per-message encryption cost of node's web-push (OpenSSL via node:crypto),
// for comparison with `cargo bench --bench encrypt`: one aes128gcm body per
// call (fresh ephemeral key and salt), no VAPID, no sending.
//
//   mkdir -p /tmp/peers-node && npm install --prefix /tmp/peers-node web-push@3.6.7
//   NODE_PATH=/tmp/peers-node/node_modules node benches/peers/web-push-node.js
'use strict';
const crypto = require('node:crypto');
const webpush = require('web-push');

const ua = crypto.createECDH('prime256v1');
ua.generateKeys();
const p256dh = ua.getPublicKey().toString('base64url');
const auth = crypto.randomBytes(16).toString('base64url');

for (const size of [32, 1024, 3993]) {
  const data = Buffer.alloc(size, 0x42);
  for (let i = 0; i < 200; i++) webpush.encrypt(p256dh, auth, data, 'aes128gcm');
  const samples = [];
  for (let s = 0; s < 15; s++) {
    const n = 500;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) webpush.encrypt(p256dh, auth, data, 'aes128gcm');
    samples.push(Number(process.hrtime.bigint() - start) / n / 1000);
  }
  samples.sort((a, b) => a - b);
  console.log(`node web-push 3.6.7 aes128gcm ${String(size).padStart(4)} B: median ${samples[7].toFixed(1)} us/message`);
}
