'use strict';

const session = require('express-session');
const RedisStore = require('connect-redis').default;
const { createClient } = require('redis');

const redis = createClient({ url: process.env.FORUM_REDIS_URL });
redis.connect().catch((err) => console.error('redis', err.message));

const store = new RedisStore({ client: redis, prefix: 'forum:sess:' });

module.exports = session({
  name: 'forum.sid',
  store,
  secret: (process.env.FORUM_SESSION_SECRETS || '').split(','),
  resave: false,
  saveUninitialized: false,
  rolling: true,
  cookie: { httpOnly: true, secure: true, sameSite: 'lax', maxAge: 14 * 24 * 3600 * 1000 },
});
module.exports.redis = redis;
