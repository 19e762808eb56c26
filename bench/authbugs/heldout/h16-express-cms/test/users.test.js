'use strict';

const test = require('node:test');
const assert = require('node:assert');
const users = require('../src/users');

test('summary never exposes the MFA secret or hash', () => {
  const u = users.add({ id: 1, name: 'Ed', email: 'ed@news.example', passwordHash: 'h', mfaSecret: 'JBSWY3DP' });
  const s = users.summary(u);
  assert.strictEqual(s.mfa, true);
  assert.ok(!('mfaSecret' in s) && !('passwordHash' in s));
});
