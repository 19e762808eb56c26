'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { publicCors } = require('../src/middleware/cors');

test('public feed is readable from anywhere without credentials', () => {
  const headers = {};
  const res = { set: (k, v) => { headers[k] = v; }, sendStatus: () => {} };
  publicCors({ method: 'GET' }, res, () => {});
  assert.strictEqual(headers['Access-Control-Allow-Origin'], '*');
  assert.strictEqual(headers['Access-Control-Allow-Credentials'], undefined);
});
