'use strict';

const test = require('node:test');
const assert = require('node:assert');
const otp = require('../src/auth/otp');

test('a code works once', () => {
  const { id, code } = otp.issue('1001');
  assert.strictEqual(otp.check(id, code).ok, true);
  assert.strictEqual(otp.check(id, code).ok, false);
});

test('three wrong codes burn the challenge', () => {
  const { id, code } = otp.issue('1002');
  for (let i = 0; i < 3; i += 1) otp.check(id, '000000' === code ? '111111' : '000000');
  assert.strictEqual(otp.check(id, code).ok, false);
});
