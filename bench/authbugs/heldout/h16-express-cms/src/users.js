'use strict';

const users = new Map();

function add(user) {
  users.set(user.id, { role: 'writer', suspended: false, mfaSecret: null, ...user });
  return users.get(user.id);
}

const get = (id) => users.get(Number(id)) || null;
const all = () => [...users.values()];
const remove = (id) => users.delete(Number(id));

function summary(user) {
  return { id: user.id, name: user.name, email: user.email, role: user.role, suspended: user.suspended, mfa: Boolean(user.mfaSecret) };
}

module.exports = { add, get, all, remove, summary };
