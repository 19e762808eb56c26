'use strict';

function isLocalPath(target) {
  if (typeof target !== 'string' || target.length === 0 || target.length > 2048) return false;
  if (!target.startsWith('/') || target.startsWith('//')) return false;
  return !target.includes('\\') && !/[\r\n]/.test(target);
}

function localOr(target, fallback = '/') {
  return isLocalPath(target) ? target : fallback;
}

module.exports = { isLocalPath, localOr };
