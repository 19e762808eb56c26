'use strict';

const express = require('express');
const session = require('express-session');
const users = require('./users');

const app = express();
app.use(express.json({ limit: '64kb' }));
app.use(session({
  name: 'cms.sid',
  secret: process.env.CMS_SESSION_SECRET,
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, secure: true, sameSite: 'strict' },
}));

app.use('/admin/api', (req, res, next) => {
  const user = req.session.userId ? users.get(req.session.userId) : null;
  if (!user || user.suspended) return res.sendStatus(401);
  req.user = user;
  return next();
});
app.use('/admin/api', require('./routes/users'));
app.use('/admin/api', require('./routes/articles'));

if (require.main === module) app.listen(Number(process.env.PORT || 3800));
module.exports = app;
