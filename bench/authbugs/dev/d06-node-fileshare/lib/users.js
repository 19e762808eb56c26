'use strict';

const crypto = require('crypto');

const users = new Map();

function hashPassword(password, salt = crypto.randomBytes(16)) {
  const hash = crypto.scryptSync(password, salt, 64);
  return { salt: salt.toString('hex'), hash: hash.toString('hex') };
}

function addUser(username, password) {
  users.set(username, { username, ...hashPassword(password) });
}

function verifyPassword(username, password) {
  const user = users.get(username);
  const { salt, hash } = user || { salt: '00'.repeat(16), hash: '00'.repeat(64) };
  const candidate = crypto.scryptSync(password, Buffer.from(salt, 'hex'), 64);
  const ok = crypto.timingSafeEqual(candidate, Buffer.from(hash, 'hex'));
  return Boolean(user) && ok;
}

module.exports = { addUser, verifyPassword };
