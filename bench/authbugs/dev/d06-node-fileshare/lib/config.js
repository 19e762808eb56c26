'use strict';

const linkKey = process.env.FILESHARE_LINK_KEY;
if (!linkKey || linkKey.length < 32) {
  throw new Error('FILESHARE_LINK_KEY must be at least 32 characters');
}

module.exports = {
  port: Number(process.env.PORT || 8080),
  storageDir: process.env.FILESHARE_DIR || '/srv/fileshare',
  linkKey,
  sessionIdleMs: 30 * 60 * 1000,
  sessionMaxMs: 12 * 60 * 60 * 1000,
  linkTtlMs: 24 * 60 * 60 * 1000,
};
