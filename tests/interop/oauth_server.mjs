// An OAuth 2 / OpenID Connect authorization server for the gateway's OAuth tests:
// oauth2-mock-server (npm, pinned in scripts/install-peers.sh), which publishes discovery
// metadata and a JWKS, approves /authorize at once (redirecting with a code), checks PKCE, and
// issues RS256 JWTs for the authorization_code, refresh_token and client_credentials grants.
//
//   node tests/interop/oauth_server.mjs   (PEERS_NODE_MODULES overrides .peers/node/node_modules)
//
// Configured through its documented hooks only: the issuer is http://127.0.0.1:PORT (not
// "localhost"), a token's `aud` is the RFC 8707 `resource` the client asked for (the MCP
// server checks it), and a client_credentials token's `sub` is the client (RFC 9068 §2.2). Prints one line, {"issuer": ..., "port": ...}; exits when stdin closes.

import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NODE_MODULES = process.env.PEERS_NODE_MODULES || path.resolve(HERE, '../../.peers/node/node_modules');
const pkg = path.join(NODE_MODULES, 'oauth2-mock-server');
const entry = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')).exports['.'].default;
const { OAuth2Server } = await import(pathToFileURL(path.join(pkg, entry)).href);

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
server.service.on('beforeTokenSigning', (token, req) => {
  const resource = req.body && req.body.resource;
  if (typeof resource === 'string' && resource.length > 0) {
    token.payload.aud = resource;
  }
  if (token.payload.sub === undefined && req.body && typeof req.body.client_id === 'string') {
    token.payload.sub = req.body.client_id;
  }
});
await server.start(0, '127.0.0.1');
const port = server.address().port;
server.issuer.url = `http://127.0.0.1:${port}`;
process.stdout.write(JSON.stringify({ issuer: server.issuer.url, port }) + '\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.stop();
  process.exit(0);
});
