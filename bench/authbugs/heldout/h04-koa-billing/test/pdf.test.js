'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { renderInvoice } = require('../src/pdf');

test('renders totals', () => {
  const out = renderInvoice({ number: 'INV-1', issued_at: '2026-01-01', total_cents: 1250, currency: 'EUR' },
    [{ description: 'Seat', quantity: 1, unit_cents: 1250 }]).toString();
  assert.match(out, /Total 12\.50 EUR/);
});
