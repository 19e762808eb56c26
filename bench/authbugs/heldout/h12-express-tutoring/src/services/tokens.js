'use strict';

const crypto = require('crypto');

const RESET_TTL_MS = 60 * 60 * 1000;
const VERIFY_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const newToken = () => crypto.randomBytes(32).toString('base64url');
const digest = (token) => crypto.createHash('sha256').update(String(token)).digest('hex');

module.exports = { RESET_TTL_MS, VERIFY_TTL_MS, newToken, digest };
