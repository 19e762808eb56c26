'use strict';

const jwt = require('jsonwebtoken');
const config = require('./config');

function issuePair(user) {
  const claims = { sub: String(user.id), role: user.role };
  return {
    access: jwt.sign({ ...claims, typ: 'access' }, config.jwtKey, { algorithm: 'HS256', expiresIn: config.accessTtl, issuer: config.issuer }),
    refresh: jwt.sign({ sub: claims.sub, typ: 'refresh' }, config.jwtKey, { algorithm: 'HS256', expiresIn: config.refreshTtl, issuer: config.issuer }),
  };
}

function verifyRefresh(token) {
  const payload = jwt.verify(token, config.jwtKey, { algorithms: ['HS256'], issuer: config.issuer });
  if (payload.typ !== 'refresh') throw new Error('not a refresh token');
  return payload;
}

module.exports = { issuePair, verifyRefresh };
