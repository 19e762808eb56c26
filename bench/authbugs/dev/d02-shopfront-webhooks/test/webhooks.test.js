'use strict';

const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');

process.env.PAYMENTS_WEBHOOK_SECRET = process.env.PAYMENTS_WEBHOOK_SECRET || 'whsec_test_only';
process.env.SHOPFRONT_API_TOKENS = process.env.SHOPFRONT_API_TOKENS || 'test-token-a,test-token-b';

const { verifySignature } = require('../src/webhooks');

function sign(body, t) {
  const mac = crypto.createHmac('sha256', process.env.PAYMENTS_WEBHOOK_SECRET).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${mac}`;
}

test('accepts a fresh signed body', () => {
  const t = Math.floor(Date.now() / 1000);
  assert.strictEqual(verifySignature('{"a":1}', sign('{"a":1}', t)), true);
});

test('rejects a stale signature', () => {
  const t = Math.floor(Date.now() / 1000) - 3600;
  assert.strictEqual(verifySignature('{"a":1}', sign('{"a":1}', t)), false);
});
