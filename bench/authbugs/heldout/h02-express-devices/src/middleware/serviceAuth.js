'use strict';

const jwt = require('jsonwebtoken');
const config = require('../config');
const { bearer } = require('./requireUser');

function requireService(req, res, next) {
  const token = bearer(req);
  const decoded = token ? jwt.decode(token, { complete: true }) : null;
  const key = decoded && config.serviceKeys[decoded.header.kid];
  if (!key) return res.status(401).json({ error: 'unknown service key' });
  try {
    req.service = jwt.verify(token, key, { algorithms: ['RS256'], audience: 'device-registry' }).sub;
  } catch (err) {
    return res.status(401).json({ error: 'invalid service token' });
  }
  return next();
}

module.exports = { requireService };
