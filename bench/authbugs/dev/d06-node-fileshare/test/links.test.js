'use strict';

const test = require('node:test');
const assert = require('node:assert');

process.env.FILESHARE_LINK_KEY = process.env.FILESHARE_LINK_KEY || 'x'.repeat(32);
const links = require('../lib/links');

test('a link expires', () => {
  const url = new URL(links.makeLink('report.pdf', 0), 'http://h');
  assert.strictEqual(links.verifyLink('report.pdf', url.searchParams.get('e'), url.searchParams.get('s')), false);
});

test('a fresh link verifies', () => {
  const url = new URL(links.makeLink('report.pdf'), 'http://h');
  assert.strictEqual(links.verifyLink('report.pdf', url.searchParams.get('e'), url.searchParams.get('s')), true);
});
