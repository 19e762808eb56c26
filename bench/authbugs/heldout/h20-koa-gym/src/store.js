'use strict';

const members = new Map();
const resets = new Map();

module.exports = {
  members,
  resets,
  memberByEmail(email) {
    return members.get(String(email || '').trim().toLowerCase()) || null;
  },
};
