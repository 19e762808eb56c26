'use strict';

function pick(source, keys) {
  const out = {};
  for (const key of keys) {
    if (Object.prototype.hasOwnProperty.call(source || {}, key)) out[key] = source[key];
  }
  return out;
}

function publicUser(user) {
  const { passwordHash, ...rest } = user;
  return rest;
}

module.exports = { pick, publicUser };
