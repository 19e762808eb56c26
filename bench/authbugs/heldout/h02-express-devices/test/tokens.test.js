'use strict';

const test = require('node:test');
const assert = require('node:assert');

process.env.DEVICES_JWT_KEY = process.env.DEVICES_JWT_KEY || 'k'.repeat(32);
const tokens = require('../src/tokens');

test('an access token is not accepted as a refresh token', () => {
  const pair = tokens.issuePair({ id: 7, role: 'user' });
  assert.throws(() => tokens.verifyRefresh(pair.access));
  assert.strictEqual(tokens.verifyRefresh(pair.refresh).sub, '7');
});
