'use strict';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function deliver(transport, message, attempts = 4) {
  for (let i = 0; i < attempts; i += 1) {
    try {
      return await transport.send(message);
    } catch (err) {
      if (i === attempts - 1) throw err;
      const backoff = 200 * 2 ** i;
      await sleep(backoff + Math.floor(Math.random() * backoff));
    }
  }
  return null;
}

module.exports = { deliver };
