'use strict';

const bcrypt = require('bcryptjs');
const crypto = require('crypto');
const store = require('./store');

const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
const sessions = new Map();

async function signIn(email, password, now = Date.now()) {
  const member = store.memberByEmail(email);
  const ok = member ? await bcrypt.compare(String(password || ''), member.passwordHash) : false;
  if (!ok) return null;
  const sid = crypto.randomBytes(32).toString('base64url');
  sessions.set(sid, { email: member.email, expiresAt: now + SESSION_TTL_MS });
  return sid;
}

function memberFor(sid, now = Date.now()) {
  const session = sessions.get(String(sid || ''));
  if (!session || session.expiresAt <= now) {
    sessions.delete(sid);
    return null;
  }
  return store.memberByEmail(session.email);
}

const signOut = (sid) => sessions.delete(sid);

module.exports = { signIn, memberFor, signOut };
