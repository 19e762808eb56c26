'use strict';

const crypto = require('crypto');
const config = require('./config');

function digest(value) {
  return crypto.createHash('sha256').update(value).digest();
}

const knownDigests = config.apiTokens.map(digest);

function isKnownToken(presented) {
  const candidate = digest(presented);
  return knownDigests.some((known) => crypto.timingSafeEqual(known, candidate));
}

function requireApiToken(req, res, next) {
  const header = req.get('authorization') || '';
  const [scheme, presented] = header.split(' ');
  if (scheme !== 'Bearer' || !presented || !isKnownToken(presented)) {
    return res.status(401).json({ error: 'unauthorized' });
  }
  return next();
}

module.exports = { requireApiToken };
