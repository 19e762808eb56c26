'use strict';

const Router = require('@koa/router');
const argon2 = require('argon2');
const { authenticator } = require('otplib');
const { requirePasswordStep, requireSignedIn, requirePayrollAdmin } = require('./guards');

const router = new Router();

router.post('/login', async (ctx) => {
  const { email, password } = ctx.request.body || {};
  const employee = ctx.state.directory.findByEmail(String(email || ''));
  const ok = employee ? await argon2.verify(employee.passwordHash, String(password || '')).catch(() => false) : false;
  if (!ok) ctx.throw(401, 'invalid email or password');
  ctx.session = { employeeId: employee.id, totpVerified: false };
  ctx.body = { next: 'totp' };
});

router.post('/login/totp', requirePasswordStep, async (ctx) => {
  const employee = ctx.state.directory.get(ctx.session.employeeId);
  const code = String((ctx.request.body || {}).code || '');
  if (!employee || !authenticator.verify({ token: code, secret: employee.totpSecret })) ctx.throw(401, 'invalid code');
  ctx.session.totpVerified = true;
  ctx.body = { ok: true };
});

router.get('/payslips', requireSignedIn, async (ctx) => {
  ctx.body = ctx.state.payslips.filter((p) => p.employeeId === ctx.state.employee.id);
});

router.get('/bank-details', requireSignedIn, async (ctx) => {
  const { iban, accountName } = ctx.state.employee.bank || {};
  ctx.body = { iban: iban ? `${iban.slice(0, 4)}****${iban.slice(-4)}` : null, accountName };
});

router.put('/bank-details', requireSignedIn, async (ctx) => {
  const { iban, accountName } = ctx.request.body || {};
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$/.test(String(iban))) ctx.throw(400, 'invalid IBAN');
  ctx.state.employee.bank = { iban, accountName: String(accountName || '').slice(0, 70) };
  ctx.status = 204;
});

router.get('/admin/runs', requireSignedIn, requirePayrollAdmin, async (ctx) => {
  ctx.body = ctx.state.runs;
});

router.post('/logout', async (ctx) => {
  ctx.session = null;
  ctx.status = 204;
});

module.exports = router;
