'use strict';

const crypto = require('crypto');
const config = require('../config');

const challenges = new Map();

function issue(memberNumber, now = Date.now()) {
  const id = crypto.randomUUID();
  const code = String(crypto.randomInt(0, 1_000_000)).padStart(6, '0');
  challenges.set(id, { memberNumber, code, attempts: 0, expiresAt: now + config.otpTtlSeconds * 1000 });
  return { id, code };
}

function check(id, code, now = Date.now()) {
  const challenge = challenges.get(id);
  if (!challenge) return { ok: false, reason: 'unknown' };
  if (now > challenge.expiresAt || challenge.attempts >= config.maxOtpAttempts) {
    challenges.delete(id);
    return { ok: false, reason: 'expired' };
  }
  challenge.attempts += 1;
  const given = Buffer.from(String(code || '').padEnd(6, ' '));
  const expected = Buffer.from(challenge.code);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'mismatch' };
  }
  challenges.delete(id);
  return { ok: true, memberNumber: challenge.memberNumber };
}

module.exports = { issue, check };
