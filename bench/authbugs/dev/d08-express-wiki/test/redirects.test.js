'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { isLocalPath, localOr } = require('../src/redirects');

test('local paths are allowed', () => {
  assert.ok(isLocalPath('/wiki/home'));
});

test('other hosts are refused', () => {
  for (const target of ['//evil.example', 'https://evil.example', '/\\evil.example', '']) {
    assert.strictEqual(isLocalPath(target), false, target);
  }
  assert.strictEqual(localOr('https://evil.example', '/login'), '/login');
});
