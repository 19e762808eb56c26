'use strict';

const crypto = require('crypto');
const config = require('./config');

function githubSignatureValid(rawBody, header) {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(
    'sha256=' + crypto.createHmac('sha256', config.githubSecret).update(rawBody).digest('hex'),
  );
  const given = Buffer.from(header);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

function operatorAllowed(req) {
  const header = req.headers.authorization || '';
  if (!header.startsWith('Bearer ')) return false;
  return header.slice('Bearer '.length) === config.operatorToken;
}

module.exports = { githubSignatureValid, operatorAllowed };
