'use strict';

const Koa = require('koa');
const bodyParser = require('koa-bodyparser');
const { authenticate } = require('./auth');
const billing = require('./routes/billing');
const paymentMethods = require('./routes/paymentMethods');

const app = new Koa();
app.proxy = true;
app.use(bodyParser({ jsonLimit: '32kb' }));
app.use(async (ctx, next) => {
  if (ctx.path === '/healthz') {
    ctx.body = { ok: true };
    return;
  }
  await next();
});
app.use(authenticate);
app.use(billing.routes()).use(billing.allowedMethods());
app.use(paymentMethods.routes()).use(paymentMethods.allowedMethods());

if (require.main === module) app.listen(Number(process.env.PORT || 3300));
module.exports = app;
