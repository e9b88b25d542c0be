// The relying parties of the test (`app` and `selfservice`), played by the test
// itself: authorization-code flow with PKCE (S256), state and nonce; a callback
// server on 127.0.0.1 that records what the browser brings back; the code
// exchanged server-side with fetch (LemonLDAP::NG's /oauth2/token refuses requests
// that carry its SSO cookie, so never from the browser); the ID token checked with
// jose against LemonLDAP::NG's JWKS (RS256 only, iss, aud, exp, nonce, azp).

import { createServer } from 'node:http';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const b64 = (n) => randomBytes(n).toString('base64url');

/**
 * Start the callback server; the issuer is set later (the portal needs our
 * redirect URI first).
 * @param {object} o
 * @param {string} o.clientId
 * @param {string} o.clientSecret
 * @param {'client_secret_basic'|'client_secret_post'} o.clientAuth  how the token request authenticates
 */
export async function startRelyingParty({ clientId, clientSecret, clientAuth }) {
  if (!['client_secret_basic', 'client_secret_post'].includes(clientAuth)) throw new Error(`clientAuth ${clientAuth}?`);
  const callbacks = new Map(); // state -> URLSearchParams
  const waiters = new Map(); // state -> resolve
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    const state = url.searchParams.get('state') ?? '';
    callbacks.set(state, url.searchParams);
    waiters.get(state)?.(url.searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    const shown = [...url.searchParams.keys()].map((k) => `<li id="param-${k}">${k}</li>`).join('');
    res.end(`<!doctype html><title>${clientId} callback</title><h1>${clientId}: back from LemonLDAP::NG</h1><ul>${shown}</ul>`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const redirectUri = `http://127.0.0.1:${server.address().port}/callback`;

  let meta;
  let jwks;
  let issuer;
  const discover = async () => {
    if (!meta) {
      const r = await fetch(`${issuer}/.well-known/openid-configuration`);
      if (!r.ok) throw new Error(`discovery: HTTP ${r.status}`);
      meta = await r.json();
      if (meta.issuer !== issuer) throw new Error(`discovery names issuer ${meta.issuer}, expected ${issuer}`);
      jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
    }
    return meta;
  };

  return {
    clientId,
    redirectUri,
    setIssuer(i) { issuer = i; meta = undefined; },
    get metadata() { return meta; },

    /** A fresh authorization request: its URL and the secrets to check the answer with. */
    async authorizationRequest({ scope = 'openid profile email' } = {}) {
      const m = await discover();
      const verifier = b64(32);
      const request = { state: b64(16), nonce: b64(16), verifier };
      const u = new URL(m.authorization_endpoint);
      u.search = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        scope,
        state: request.state,
        nonce: request.nonce,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      return { ...request, url: u.href };
    },

    /** What reached the callback for this state, if anything. */
    callbackFor(state) { return callbacks.get(state); },
    get callbackCount() { return callbacks.size; },
    waitForCallback(state, timeoutMs = 15_000) {
      const seen = callbacks.get(state);
      if (seen) return Promise.resolve(seen);
      return new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`no callback for state ${state}`)), timeoutMs);
        waiters.set(state, (p) => { clearTimeout(t); ok(p); });
      });
    },

    /** Exchange the code (with the PKCE verifier) and check the ID token. */
    async redeem(request, params) {
      if (params.get('state') !== request.state) throw new Error('state mismatch');
      if (params.get('error')) throw new Error(`authorization error: ${params.get('error')} ${params.get('error_description') ?? ''}`);
      const m = await discover();
      const body = new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code'),
        redirect_uri: redirectUri,
        code_verifier: request.verifier,
      });
      const headers = { 'content-type': 'application/x-www-form-urlencoded' };
      if (clientAuth === 'client_secret_basic') {
        // RFC 6749 2.3.1 form-encodes both before base64; LemonLDAP::NG 2.16
        // neither decodes them nor reads past a '+', '/' or '=' in the base64
        // (`Basic (\w+)`), and splits at the first ':'. Letters, digits, '-', '_'
        // and '.' encode to themselves and never produce '+' or '/'.
        if (/[^A-Za-z0-9._-]/.test(clientId + clientSecret)) throw new Error('client_secret_basic with LemonLDAP::NG needs [A-Za-z0-9._-] only');
        headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
      } else {
        body.set('client_id', clientId);
        body.set('client_secret', clientSecret);
      }
      const r = await fetch(m.token_endpoint, { method: 'POST', headers, body });
      const tokens = await r.json();
      if (!r.ok) throw new Error(`token endpoint: HTTP ${r.status} ${JSON.stringify(tokens)}`);
      const { payload, protectedHeader } = await jwtVerify(tokens.id_token, jwks, {
        issuer,
        audience: clientId,
        algorithms: ['RS256'],
      });
      if (payload.nonce !== request.nonce) throw new Error('nonce mismatch');
      if (payload.azp !== undefined && payload.azp !== clientId) throw new Error('azp mismatch');
      return { tokens, claims: payload, header: protectedHeader };
    },

    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
