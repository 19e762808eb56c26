'use strict';

const express = require('express');
const sessionMiddleware = require('./session');

const app = express();
app.set('trust proxy', 1);
app.use(express.json({ limit: '64kb' }));
app.use(sessionMiddleware);
app.use('/auth', require('./routes/auth'));
app.use(require('./routes/posts'));

if (require.main === module) app.listen(Number(process.env.PORT || 3900));
module.exports = app;
