'use strict';

const crypto = require('crypto');
const config = require('./config');

const sessions = new Map();

function createSession(userId) {
  const id = crypto.randomBytes(32).toString('base64url');
  const now = Date.now();
  sessions.set(id, { userId, createdAt: now, lastSeen: now });
  return id;
}

function getSession(id) {
  const session = id ? sessions.get(id) : undefined;
  if (!session) return null;
  const now = Date.now();
  if (now - session.createdAt > config.sessionMaxMs) {
    sessions.delete(id);
    return null;
  }
  if (session.lastSeen - now > config.sessionIdleMs) {
    sessions.delete(id);
    return null;
  }
  session.lastSeen = now;
  return session;
}

function destroySession(id) {
  sessions.delete(id);
}

function sweep(now = Date.now()) {
  for (const [id, session] of sessions) {
    if (now - session.createdAt > config.sessionMaxMs || now - session.lastSeen > config.sessionIdleMs) {
      sessions.delete(id);
    }
  }
}

module.exports = { createSession, getSession, destroySession, sweep };
