'use strict';

const express = require('express');
const session = require('express-session');

const app = express();
app.use(express.json({ limit: '16kb' }));
app.use(session({
  name: 'studio.sid',
  secret: process.env.STUDIO_SESSION_SECRET,
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, secure: true, sameSite: 'lax' },
}));
app.use('/account', require('./routes/account'));
app.use('/issues', require('./routes/issues'));
app.get('/drafts', (req, res) => {
  if (!req.session.writer) return res.sendStatus(401);
  return res.json({ writer: req.session.writer, drafts: [] });
});

if (require.main === module) app.listen(Number(process.env.PORT || 3500));
module.exports = app;
