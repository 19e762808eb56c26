'use strict';

const express = require('express');

const app = express();
app.locals.mailer = { send: (to, template, vars) => console.log(`mail ${template} to ${to}`, Object.keys(vars)) };
app.use(express.json({ limit: '8kb' }));
app.use('/account', require('./routes/account'));

if (require.main === module) app.listen(Number(process.env.PORT || 3600));
module.exports = app;
