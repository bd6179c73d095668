// Verifies one signed webhook, independently of folderhook's code.
// usage: node verify.js CASE.json   where CASE = {"secret", "headers": {...}, "payload", "form"}
// form "post": the standardwebhooks package's own verifier (it also parses the JSON body).
// form "get": HMAC-SHA256 over "<id>.<timestamp>.<query>" recomputed with node's crypto.
// Exit 0 and "verified" when the signature holds; exit 1 with the reason otherwise.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { Webhook } = require('standardwebhooks');

const c = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
try {
  if (c.form === 'post') {
    new Webhook(c.secret).verify(c.payload, c.headers);
  } else {
    const key = Buffer.from(c.secret.replace(/^whsec_/, ''), 'base64');
    const signed = `${c.headers['webhook-id']}.${c.headers['webhook-timestamp']}.${c.payload}`;
    const expected = crypto.createHmac('sha256', key).update(signed).digest('base64');
    const given = c.headers['webhook-signature'].split(' ').map((s) => s.split(',')[1]);
    if (!given.includes(expected)) throw new Error(`no v1 signature matches ${expected}`);
    const age = Math.abs(Date.now() / 1000 - Number(c.headers['webhook-timestamp']));
    if (!(age < 300)) throw new Error(`timestamp is ${age}s away from now`);
  }
  console.log('verified');
} catch (e) {
  console.log(`refused: ${e.message}`);
  process.exit(1);
}
