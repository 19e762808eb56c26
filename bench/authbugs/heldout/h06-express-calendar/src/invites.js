'use strict';

const crypto = require('crypto');

const INVITE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const invites = new Map();

const digest = (token) => crypto.createHash('sha256').update(String(token)).digest('hex');

function createInvite(event, email, now = Date.now()) {
  const token = crypto.randomBytes(24).toString('base64url');
  invites.set(digest(token), { eventId: event.id, email: email.toLowerCase(), expiresAt: now + INVITE_TTL_MS });
  return token;
}

function acceptInvite(token, userEmail, now = Date.now()) {
  const key = digest(token);
  const invite = invites.get(key);
  if (!invite || invite.expiresAt < now || invite.email !== String(userEmail).toLowerCase()) return null;
  invites.delete(key);
  return invite.eventId;
}

module.exports = { createInvite, acceptInvite };
