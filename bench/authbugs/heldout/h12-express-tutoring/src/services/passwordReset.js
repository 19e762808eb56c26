'use strict';

const bcrypt = require('bcrypt');
const db = require('../db');
const { RESET_TTL_MS, newToken, digest } = require('./tokens');

function startReset(userId, now = Date.now()) {
  const token = newToken();
  db.resetTokens.set(digest(token), { userId, expiresAt: now + RESET_TTL_MS });
  return token;
}

async function completeReset(token, newPassword, now = Date.now()) {
  const record = db.resetTokens.get(digest(token));
  if (!record || now > record.expiresAt) return false;
  const user = db.users.get(record.userId);
  if (!user) return false;
  user.passwordHash = await bcrypt.hash(newPassword, 12);
  user.passwordChangedAt = now;
  for (const [sid, session] of db.sessions) {
    if (session.userId === user.id) db.sessions.delete(sid);
  }
  return true;
}

module.exports = { startReset, completeReset };
