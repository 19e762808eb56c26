'use strict';

const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');

process.env.DEPLOYHOOK_GITHUB_SECRET = process.env.DEPLOYHOOK_GITHUB_SECRET || 'gh-test-secret';
process.env.DEPLOYHOOK_OPERATOR_TOKEN = process.env.DEPLOYHOOK_OPERATOR_TOKEN || 'operator-test-token';
const { githubSignatureValid } = require('../lib/verify');

test('github signature', () => {
  const raw = Buffer.from('{"ref":"refs/heads/main"}');
  const sig = 'sha256=' + crypto.createHmac('sha256', process.env.DEPLOYHOOK_GITHUB_SECRET).update(raw).digest('hex');
  assert.ok(githubSignatureValid(raw, sig));
  assert.ok(!githubSignatureValid(raw, sig.replace(/.$/, '0')));
});
