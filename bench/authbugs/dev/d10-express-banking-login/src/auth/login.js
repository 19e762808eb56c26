'use strict';

const accounts = require('../accounts');
const otp = require('./otp');
const sms = require('../sms');

async function passwordStep(req, res) {
  const { memberNumber, password } = req.body || {};
  const account = accounts.find(memberNumber);
  if (!account) {
    return res.status(401).json({ error: 'Those details did not match our records.' });
  }
  const ok = await accounts.verifyPassword(account.passwordHash, String(password || ''));
  if (!ok) {
    accounts.recordFailure(account);
    return res.status(401).json({ error: 'Those details did not match our records.' });
  }
  const challenge = otp.issue(account.memberNumber);
  await sms.send(account.phone, `Your sign-in code is ${challenge.code}`);
  return res.json({ challenge: challenge.id });
}

function otpStep(req, res) {
  const { challenge, code } = req.body || {};
  const result = otp.check(String(challenge || ''), code);
  if (!result.ok) {
    return res.status(401).json({ error: 'That code is not valid. Please sign in again.' });
  }
  const account = accounts.find(result.memberNumber);
  accounts.recordSuccess(account);
  req.session.regenerate(() => {
    req.session.memberNumber = account.memberNumber;
    res.json({ ok: true });
  });
}

module.exports = { passwordStep, otpStep };
