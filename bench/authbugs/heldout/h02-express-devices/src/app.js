'use strict';

const express = require('express');
const config = require('./config');
const tokens = require('./tokens');

if (!config.jwtKey || config.jwtKey.length < 32) throw new Error('DEVICES_JWT_KEY must be set (32+ chars)');

const app = express();
app.use(express.json({ limit: '32kb' }));

app.post('/auth/refresh', (req, res) => {
  try {
    const payload = tokens.verifyRefresh(String((req.body && req.body.refresh) || ''));
    return res.json(tokens.issuePair({ id: payload.sub, role: 'user' }));
  } catch (err) {
    return res.status(401).json({ error: 'invalid refresh token' });
  }
});

app.use(require('./routes/devices'));

if (require.main === module) app.listen(config.port);
module.exports = app;
