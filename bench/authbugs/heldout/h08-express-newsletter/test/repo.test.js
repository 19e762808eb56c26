'use strict';

const test = require('node:test');
const assert = require('node:assert');
const repo = require('../src/repo');

test('emails are looked up case-insensitively', () => {
  repo.saveWriter({ email: 'ana@example.org', passwordHash: 'x' });
  assert.ok(repo.findWriter('Ana@Example.org'));
});

test('reset tokens are long and random', () => {
  const a = repo.addResetRequest('ana@example.org');
  const b = repo.addResetRequest('ana@example.org');
  assert.strictEqual(a.length, 64);
  assert.notStrictEqual(a, b);
});
