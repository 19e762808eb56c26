'use strict';

const express = require('express');
const session = require('express-session');

const app = express();
const sessionSecret = process.env.WIKI_SESSION_SECRET;
if (!sessionSecret) throw new Error('WIKI_SESSION_SECRET is required');

app.set('view engine', 'ejs');
app.set('trust proxy', 1);
app.use(session({
  name: 'wiki.sid',
  secret: sessionSecret,
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, secure: true, sameSite: 'lax', maxAge: 8 * 3600 * 1000 },
}));
app.use(require('./routes/session'));
app.use(require('./routes/pages'));

if (require.main === module) app.listen(Number(process.env.PORT || 3000));
module.exports = app;
