// A small relying party: authorization-code flow with PKCE, the code
// exchanged with plain fetch, the ID token checked with jose (signature from
// the provider's JWKS, issuer, audience, expiry, nonce). Shows the claims.

import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { cookies, esc, redirect, sendPage } from './html.js';

const b64 = (bytes) => Buffer.from(bytes).toString('base64url');

/**
 * @param {object} o
 * @param {number} [o.port]
 * @param {string} o.clientId
 * @param {string} o.clientSecret
 * @param {() => string} o.issuer   the provider's issuer (read when first needed)
 */
export async function startRp({ port = 0, clientId, clientSecret, issuer }) {
  const sessions = new Map(); // sid -> {pkce, state, nonce, claims, idToken}
  let meta;
  let jwks;
  const discover = async () => {
    if (!meta) {
      const r = await fetch(`${issuer()}/.well-known/openid-configuration`);
      meta = await r.json();
      jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
    }
    return meta;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) sendPage(res, 500, 'Error', `<p class="error">${esc(e.message)}</p>`);
    });
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  const redirectUri = `${base}/callback`;

  function session(req, res) {
    let sid = cookies(req).get('rp_sid');
    if (!sid || !sessions.has(sid)) {
      sid = b64(randomBytes(18));
      sessions.set(sid, {});
      res.setHeader('set-cookie', `rp_sid=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    }
    return sessions.get(sid);
  }

  async function handle(req, res) {
    const url = new URL(req.url, base);
    const s = session(req, res);
    if (url.pathname === '/') {
      if (s.claims) {
        return sendPage(res, 200, 'Signed in', `
<p>Signed in as <strong id="who">${esc(s.claims.sub)}</strong> with <span id="amr">${esc((s.claims.amr ?? []).join(' + '))}</span>.</p>
<h2>ID token claims</h2>
<pre id="claims">${esc(JSON.stringify(s.claims, null, 2))}</pre>
<p><a href="/logout" id="logout">Log out</a></p>`);
      }
      return sendPage(res, 200, 'Example application', `
${s.error ? `<p class="error" id="error">${esc(s.error)}</p>` : ''}
<p><a href="/login" id="login">Sign in</a></p>`);
    }
    if (url.pathname === '/login') {
      const m = await discover();
      s.verifier = b64(randomBytes(32));
      s.state = b64(randomBytes(16));
      s.nonce = b64(randomBytes(16));
      s.error = undefined;
      const auth = new URL(m.authorization_endpoint);
      auth.search = new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        scope: 'openid profile backup_code',
        redirect_uri: redirectUri,
        state: s.state,
        nonce: s.nonce,
        code_challenge: b64(createHash('sha256').update(s.verifier).digest()),
        code_challenge_method: 'S256',
      }).toString();
      return redirect(res, auth.toString());
    }
    if (url.pathname === '/callback') {
      const m = await discover();
      const q = url.searchParams;
      if (!s.state || q.get('state') !== s.state) {
        return sendPage(res, 400, 'Sign-in refused', '<p class="error">The answer does not belong to this sign-in (state).</p>');
      }
      s.state = undefined;
      if (q.get('error')) {
        s.error = `Sign-in failed: ${q.get('error')}${q.get('error_description') ? ` (${q.get('error_description')})` : ''}`;
        return redirect(res, '/');
      }
      const r = await fetch(m.token_endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: q.get('code') ?? '',
          redirect_uri: redirectUri,
          code_verifier: s.verifier,
        }),
      });
      const tokens = await r.json();
      if (!r.ok) throw new Error(`token endpoint: ${tokens.error} ${tokens.error_description ?? ''}`);
      const { payload } = await jwtVerify(tokens.id_token, jwks, {
        issuer: m.issuer,
        audience: clientId,
        algorithms: ['RS256'],
      });
      if (payload.nonce !== s.nonce) throw new Error('nonce mismatch');
      s.claims = payload;
      s.idToken = tokens.id_token;
      return redirect(res, '/');
    }
    if (url.pathname === '/logout') {
      const m = await discover();
      const hint = s.idToken;
      s.claims = undefined;
      s.idToken = undefined;
      const end = new URL(m.end_session_endpoint);
      end.search = new URLSearchParams({
        client_id: clientId,
        post_logout_redirect_uri: `${base}/`,
        ...(hint ? { id_token_hint: hint } : {}),
      }).toString();
      return redirect(res, end.toString());
    }
    return sendPage(res, 404, 'Not found', '<p>No such page.</p>');
  }

  return {
    base,
    redirectUri,
    close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }),
  };
}
