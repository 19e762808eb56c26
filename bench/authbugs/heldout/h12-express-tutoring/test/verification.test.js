'use strict';

const test = require('node:test');
const assert = require('node:assert');
const db = require('../src/db');
const verification = require('../src/services/emailVerification');

test('a verification link works once', () => {
  db.users.set(1, { id: 1, email: 'sam@example.org' });
  const token = verification.issue(1);
  assert.strictEqual(verification.confirm(token), true);
  assert.strictEqual(verification.confirm(token), false);
});
