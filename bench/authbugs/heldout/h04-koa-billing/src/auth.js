'use strict';

const jwt = require('jsonwebtoken');

const publicKey = process.env.BILLING_JWT_PUBLIC_KEY;

async function authenticate(ctx, next) {
  const header = ctx.get('authorization');
  if (!header.startsWith('Bearer ')) ctx.throw(401);
  try {
    const claims = jwt.verify(header.slice(7), publicKey, { algorithms: ['RS256'], audience: 'billing' });
    ctx.state.user = { id: Number(claims.sub), roles: claims.roles || [] };
  } catch (err) {
    ctx.throw(401, 'invalid token');
  }
  await next();
}

function requireRole(role) {
  return async (ctx, next) => {
    if (!ctx.state.user.roles.includes(role)) ctx.throw(403);
    await next();
  };
}

module.exports = { authenticate, requireRole };
