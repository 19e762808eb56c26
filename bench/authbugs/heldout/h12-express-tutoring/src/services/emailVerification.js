'use strict';

const db = require('../db');
const { VERIFY_TTL_MS, newToken, digest } = require('./tokens');

function issue(userId, now = Date.now()) {
  const token = newToken();
  db.verifyTokens.set(digest(token), { userId, expiresAt: now + VERIFY_TTL_MS });
  return token;
}

function confirm(token, now = Date.now()) {
  const key = digest(token);
  const record = db.verifyTokens.get(key);
  if (!record) return false;
  db.verifyTokens.delete(key);
  if (now > record.expiresAt) return false;
  const user = db.users.get(record.userId);
  if (!user) return false;
  user.emailVerified = true;
  return true;
}

module.exports = { issue, confirm };
