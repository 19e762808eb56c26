'use strict';

const https = require('https');

function send(phone, text) {
  const endpoint = process.env.SMS_GATEWAY_URL;
  if (!endpoint) {
    console.log(`[sms to ${phone.slice(-4).padStart(phone.length, '*')}] ${text.replace(/\d{6}/, '******')}`);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const req = https.request(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ to: phone, text }));
  });
}

module.exports = { send };
