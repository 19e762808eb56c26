'use strict';

const test = require('node:test');
const assert = require('node:assert');
const store = require('../src/store');
const reset = require('../src/reset');

test('a reset link works once', async () => {
  store.members.set('jo@example.org', { email: 'jo@example.org', passwordHash: 'x' });
  const token = reset.requestReset('jo@example.org');
  assert.ok(await reset.applyReset(token, 'new password here'));
  assert.ok(!(await reset.applyReset(token, 'again password')));
});
