'use strict';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

module.exports = {
  port: Number(process.env.DEPLOYHOOK_PORT || 9000),
  githubSecret: need('DEPLOYHOOK_GITHUB_SECRET'),
  operatorToken: need('DEPLOYHOOK_OPERATOR_TOKEN'),
  branch: process.env.DEPLOYHOOK_BRANCH || 'main',
  script: process.env.DEPLOYHOOK_SCRIPT || '/opt/app/deploy.sh',
};
