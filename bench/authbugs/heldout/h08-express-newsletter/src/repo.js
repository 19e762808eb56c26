'use strict';

const crypto = require('crypto');

const writers = new Map();
const pendingSignups = new Map();
const resetRequests = new Map();

module.exports = {
  findWriter: (email) => writers.get(String(email || '').toLowerCase()) || null,
  saveWriter: (writer) => writers.set(writer.email, writer),
  addPendingSignup(email, passwordHash) {
    const token = crypto.randomBytes(32).toString('hex');
    pendingSignups.set(token, { email, passwordHash, createdAt: Date.now() });
    return token;
  },
  addResetRequest(email) {
    const token = crypto.randomBytes(32).toString('hex');
    resetRequests.set(crypto.createHash('sha256').update(token).digest('hex'), { email, expiresAt: Date.now() + 3600e3 });
    return token;
  },
};
