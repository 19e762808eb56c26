'use strict';

const argon2 = require('argon2');

const accounts = new Map();

function create(memberNumber, passwordHash, phone) {
  const account = {
    memberNumber,
    passwordHash,
    phone,
    failedLogins: 0,
    lockedUntil: null,
    lastLoginAt: null,
  };
  accounts.set(memberNumber, account);
  return account;
}

function find(memberNumber) {
  return accounts.get(String(memberNumber)) || null;
}

function recordFailure(account, now = Date.now()) {
  account.failedLogins += 1;
  account.lastFailureAt = now;
}

function recordSuccess(account, now = Date.now()) {
  account.failedLogins = 0;
  account.lockedUntil = null;
  account.lastLoginAt = now;
}

const hashPassword = (plain) => argon2.hash(plain, { type: argon2.argon2id });

async function verifyPassword(storedHash, plain) {
  try {
    return await argon2.verify(storedHash, plain);
  } catch {
    return false;
  }
}

module.exports = { create, find, recordFailure, recordSuccess, hashPassword, verifyPassword };
