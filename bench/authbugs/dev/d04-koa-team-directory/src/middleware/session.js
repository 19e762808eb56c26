'use strict';

const db = require('../db');

async function loadUser(ctx, next) {
  const id = ctx.session && ctx.session.userId;
  ctx.state.user = id ? db.findById(id) : null;
  await next();
}

async function requireUser(ctx, next) {
  if (!ctx.state.user) ctx.throw(401, 'sign in first');
  await next();
}

async function requireAdmin(ctx, next) {
  if (!ctx.state.user || ctx.state.user.role !== 'admin') ctx.throw(403, 'admins only');
  await next();
}

module.exports = { loadUser, requireUser, requireAdmin };
