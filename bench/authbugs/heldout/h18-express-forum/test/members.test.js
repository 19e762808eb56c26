'use strict';

const test = require('node:test');
const assert = require('node:assert');
const members = require('../src/members');

test('handles are case-insensitive and passwords checked', async () => {
  const password = process.env.FORUM_TEST_PASSWORD || 'test-password-only';
  await members.register('Quill', password);
  assert.ok(await members.verify('quill', password));
  assert.strictEqual(await members.verify('quill', 'nope'), null);
});
