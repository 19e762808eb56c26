'use strict';

const crypto = require('crypto');
const config = require('./config');

function mac(fileId, expires) {
  return crypto.createHmac('sha256', config.linkKey).update(`${fileId}:${expires}`).digest();
}

function makeLink(fileId, now = Date.now()) {
  const expires = now + config.linkTtlMs;
  return `/d/${encodeURIComponent(fileId)}?e=${expires}&s=${mac(fileId, expires).toString('base64url')}`;
}

function verifyLink(fileId, expiresParam, sigParam, now = Date.now()) {
  const expires = Number(expiresParam);
  if (!Number.isSafeInteger(expires) || now > expires) return false;
  const expected = mac(fileId, expires);
  const given = Buffer.from(String(sigParam || ''), 'base64url');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

module.exports = { makeLink, verifyLink };
