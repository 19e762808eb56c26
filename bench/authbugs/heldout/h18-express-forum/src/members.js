'use strict';

const bcrypt = require('bcrypt');

const members = new Map();

async function register(handle, password) {
  const member = { id: members.size + 1, handle, passwordHash: await bcrypt.hash(password, 12), posts: 0 };
  members.set(handle.toLowerCase(), member);
  return member;
}

async function verify(handle, password) {
  const member = members.get(String(handle || '').toLowerCase());
  if (!member) return null;
  return (await bcrypt.compare(String(password || ''), member.passwordHash)) ? member : null;
}

function byId(id) {
  for (const m of members.values()) if (m.id === id) return m;
  return null;
}

module.exports = { register, verify, byId, members };
