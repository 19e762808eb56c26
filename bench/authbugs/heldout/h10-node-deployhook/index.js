'use strict';

const http = require('http');
const config = require('./lib/config');
const { githubSignatureValid, operatorAllowed } = require('./lib/verify');
const runner = require('./lib/runner');

function body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size > 1 << 20) reject(new Error('too large')); else chunks.push(c); });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function reply(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

async function onGithubPush(req, res) {
  const raw = await body(req);
  if (!githubSignatureValid(raw, req.headers['x-hub-signature-256'])) return reply(res, 401, { error: 'bad signature' });
  const event = JSON.parse(raw.toString('utf8'));
  if (req.headers['x-github-event'] !== 'push' || event.ref !== `refs/heads/${config.branch}`) {
    return reply(res, 202, { ignored: true });
  }
  return reply(res, 202, runner.deploy(event.after, 'github'));
}

async function onManualDeploy(req, res) {
  if (!operatorAllowed(req)) return reply(res, 401, { error: 'unauthorized' });
  const { sha } = JSON.parse((await body(req)).toString('utf8') || '{}');
  if (!/^[0-9a-f]{40}$/.test(String(sha))) return reply(res, 400, { error: 'sha must be a full commit id' });
  return reply(res, 202, runner.deploy(sha, 'operator'));
}

const server = http.createServer((req, res) => {
  const route = `${req.method} ${req.url}`;
  const handler = {
    'POST /hooks/github': onGithubPush,
    'POST /deploy': onManualDeploy,
    'GET /deploys': async () => (operatorAllowed(req) ? reply(res, 200, runner.history) : reply(res, 401, {})),
  }[route];
  if (!handler) return reply(res, 404, { error: 'not found' });
  return handler(req, res).catch(() => reply(res, 400, { error: 'bad request' }));
});

if (require.main === module) server.listen(config.port, '0.0.0.0');
module.exports = server;
