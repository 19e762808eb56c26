'use strict';

const users = new Map();
let seq = 0;

function insertUser(fields) {
  seq += 1;
  const user = {
    id: seq,
    email: fields.email,
    name: fields.name,
    title: fields.title || '',
    phone: fields.phone || '',
    passwordHash: fields.passwordHash,
    role: 'member',
    preferences: { theme: 'light', digest: 'weekly' },
    createdAt: new Date().toISOString(),
  };
  users.set(user.id, user);
  return user;
}

function findById(id) {
  return users.get(Number(id)) || null;
}

function findByEmail(email) {
  for (const user of users.values()) {
    if (user.email === email) return user;
  }
  return null;
}

function saveUser(user) {
  users.set(user.id, user);
  return user;
}

function allUsers() {
  return Array.from(users.values());
}

module.exports = { insertUser, findById, findByEmail, saveUser, allUsers };
