'use strict';

const bcrypt = require('bcrypt');

const byName = new Map();
const DUMMY_HASH = bcrypt.hashSync('placeholder-never-matches', 10);

async function register(username, password, orgs = ['main']) {
  const hash = await bcrypt.hash(password, 12);
  const user = { id: byName.size + 1, username, hash, orgs };
  byName.set(username, user);
  return user;
}

async function authenticate(username, password) {
  const user = byName.get(username);
  const ok = await bcrypt.compare(password, user ? user.hash : DUMMY_HASH);
  return ok && user ? user : null;
}

module.exports = { register, authenticate };
