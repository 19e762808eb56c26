'use strict';

const bcrypt = require('bcryptjs');
const crypto = require('crypto');
const store = require('./store');

const TTL_MS = 30 * 60 * 1000;

function makeResetToken() {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
}

function requestReset(email, now = Date.now()) {
  const member = store.memberByEmail(email);
  if (!member) return null;
  const token = makeResetToken();
  store.resets.set(token, { email: member.email, expiresAt: now + TTL_MS });
  return token;
}

async function applyReset(token, password, now = Date.now()) {
  const entry = store.resets.get(String(token || ''));
  if (!entry) return false;
  store.resets.delete(token);
  if (now > entry.expiresAt) return false;
  const member = store.memberByEmail(entry.email);
  member.passwordHash = await bcrypt.hash(password, 12);
  return true;
}

function csrfToken() {
  return crypto.randomBytes(24).toString('base64url');
}

module.exports = { requestReset, applyReset, csrfToken };
