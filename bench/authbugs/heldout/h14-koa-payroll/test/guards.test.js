'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { requirePayrollAdmin } = require('../src/guards');

function ctxFor(employee) {
  return { state: { employee }, throw: (status) => { const e = new Error(String(status)); e.status = status; throw e; } };
}

test('non-payroll staff are refused', () => {
  assert.throws(() => requirePayrollAdmin(ctxFor({ department: 'sales', isAdmin: true }), () => {}), /403/);
  assert.throws(() => requirePayrollAdmin(ctxFor({ department: 'payroll', isAdmin: false }), () => {}), /403/);
});
