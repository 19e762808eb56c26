'use strict';

async function requirePasswordStep(ctx, next) {
  if (!ctx.session.employeeId) ctx.throw(401, 'sign in first');
  await next();
}

async function requireSignedIn(ctx, next) {
  if (!ctx.session.employeeId && !ctx.session.totpVerified) ctx.throw(401, 'sign in first');
  ctx.state.employee = ctx.state.directory.get(ctx.session.employeeId);
  await next();
}

function requirePayrollAdmin(ctx, next) {
  const employee = ctx.state.employee;
  if (!employee || employee.department !== 'payroll' || !employee.isAdmin) ctx.throw(403);
  return next();
}

module.exports = { requirePasswordStep, requireSignedIn, requirePayrollAdmin };
