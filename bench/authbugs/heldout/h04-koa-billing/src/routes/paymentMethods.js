'use strict';

const Router = require('@koa/router');
const db = require('../db');

const router = new Router({ prefix: '/billing/payment-methods' });

function masked(row) {
  return { id: row.id, brand: row.brand, last4: row.last4, expires: `${row.exp_month}/${row.exp_year}`, isDefault: row.is_default };
}

router.get('/', async (ctx) => {
  const rows = await db('payment_methods').where({ user_id: ctx.state.user.id, deleted_at: null });
  ctx.body = rows.map(masked);
});

router.post('/:id/default', async (ctx) => {
  const method = await db('payment_methods').where({ id: ctx.params.id, user_id: ctx.state.user.id, deleted_at: null }).first();
  if (!method) ctx.throw(404);
  await db.transaction(async (trx) => {
    await trx('payment_methods').where({ user_id: ctx.state.user.id }).update({ is_default: false });
    await trx('payment_methods').where({ id: method.id }).update({ is_default: true });
  });
  ctx.status = 204;
});

router.delete('/:id', async (ctx) => {
  const count = await db('payment_methods')
    .where({ id: ctx.params.id, user_id: ctx.state.user.id, deleted_at: null })
    .update({ deleted_at: db.fn.now() });
  if (count === 0) ctx.throw(404);
  ctx.status = 204;
});

module.exports = router;
