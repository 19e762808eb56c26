'use strict';

const express = require('express');
const session = require('express-session');
const config = require('./config');
const login = require('./auth/login');

const app = express();
app.use(express.json({ limit: '16kb' }));
app.use(session({
  name: 'mp.sid',
  secret: process.env.PORTAL_SESSION_SECRET,
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, secure: true, sameSite: 'strict' },
}));

app.post('/auth/password', login.passwordStep);
app.post('/auth/otp', login.otpStep);
app.get('/auth/me', (req, res) => {
  if (!req.session.memberNumber) return res.sendStatus(401);
  return res.json({ memberNumber: req.session.memberNumber });
});

if (require.main === module) app.listen(config.port);
module.exports = app;
