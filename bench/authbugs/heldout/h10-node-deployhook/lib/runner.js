'use strict';

const { spawn } = require('child_process');
const config = require('./config');

let running = null;
const history = [];

function deploy(sha, trigger) {
  if (running) return { started: false, reason: 'a deploy is already running' };
  const entry = { sha, trigger, startedAt: new Date().toISOString(), code: null };
  history.unshift(entry);
  history.length = Math.min(history.length, 50);
  running = spawn(config.script, [sha], { stdio: 'inherit', env: { PATH: process.env.PATH } });
  running.on('exit', (code) => {
    entry.code = code;
    running = null;
  });
  return { started: true };
}

module.exports = { deploy, history };
