'use strict';

const fs = require('fs');

function readKeyring(dir) {
  const keys = {};
  if (!dir || !fs.existsSync(dir)) return keys;
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith('.pem')) keys[name.slice(0, -4)] = fs.readFileSync(`${dir}/${name}`, 'utf8');
  }
  return keys;
}

module.exports = {
  port: Number(process.env.PORT || 3200),
  jwtKey: process.env.DEVICES_JWT_KEY,
  issuer: 'https://auth.devices.example',
  accessTtl: '15m',
  refreshTtl: '30d',
  serviceKeys: readKeyring(process.env.DEVICES_SERVICE_KEYS_DIR),
};
