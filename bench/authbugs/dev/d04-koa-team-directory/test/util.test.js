'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { pick, publicUser } = require('../src/util');

test('pick keeps only the listed keys', () => {
  assert.deepStrictEqual(pick({ theme: 'dark', role: 'admin' }, ['theme', 'digest']), { theme: 'dark' });
});

test('publicUser drops the hash', () => {
  const out = publicUser({ id: 1, name: 'A', passwordHash: 'x' });
  assert.strictEqual('passwordHash' in out, false);
});
