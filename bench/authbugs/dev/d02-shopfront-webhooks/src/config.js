'use strict';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`missing environment variable ${name}`);
  }
  return value;
}

module.exports = {
  port: Number(process.env.PORT || 3000),
  webhookSecret: required('PAYMENTS_WEBHOOK_SECRET'),
  apiTokens: required('SHOPFRONT_API_TOKENS').split(',').map((t) => t.trim()).filter(Boolean),
  webhookToleranceSeconds: 300,
};
