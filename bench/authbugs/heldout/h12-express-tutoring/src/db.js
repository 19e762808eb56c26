'use strict';

const tables = { users: new Map(), resetTokens: new Map(), verifyTokens: new Map(), sessions: new Map() };

module.exports = {
  users: tables.users,
  resetTokens: tables.resetTokens,
  verifyTokens: tables.verifyTokens,
  sessions: tables.sessions,
};
