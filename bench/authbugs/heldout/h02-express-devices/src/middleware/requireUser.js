'use strict';

const jwt = require('jsonwebtoken');
const config = require('../config');

function bearer(req) {
  const header = req.get('authorization') || '';
  return header.startsWith('Bearer ') ? header.slice(7) : null;
}

function requireUser(req, res, next) {
  const token = bearer(req);
  if (!token) return res.status(401).json({ error: 'missing token' });
  const payload = jwt.decode(token);
  if (!payload || payload.typ !== 'access' || payload.iss !== config.issuer) {
    return res.status(401).json({ error: 'invalid token' });
  }
  if (!payload.exp || payload.exp * 1000 <= Date.now()) {
    return res.status(401).json({ error: 'token expired' });
  }
  req.user = { id: payload.sub, role: payload.role };
  return next();
}

module.exports = { requireUser, bearer };
