// A relying party of the shim's step-up OpenID provider, following Microsoft
// Entra's external authentication method contract, with its own RSA keys on
// loopback:
//
// - its JWKS and discovery document (the shim fetches the hint's keys there);
// - `GET /start?user=<oid>`: the page Entra serves after the first factor, an
//   auto-submitting form POSTing exactly the documented parameters to the
//   provider's authorization endpoint, with an `id_token_hint` issued already
//   expired (exp one second before iat) and the documented `claims`;
// - `POST /common/federation/externalauthprovider`: the form post back. It
//   validates the ID token as Entra documents (keys through the provider's
//   discovery document and JWKS, `x5c` present and holding the key, issuer,
//   audience = our client id, sub = the hint's sub, nonce, exactly one acr out
//   of those requested, an amr array of exactly one accepted method, state),
//   then redirects (same origin) to the result page.
//
// `profile` sets what is asked and accepted, so the same code plays Entra and
// a second relying party with other acr/amr values.

import { createServer } from 'node:http';
import { X509Certificate, randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, decodeProtectedHeader } from 'jose';

export const ENTRA_CLAIMS = {
  id_token: {
    acr: { essential: true, values: ['possessionorinherence'] },
    amr: {
      essential: true,
      values: ['face', 'fido', 'fpt', 'hwk', 'iris', 'otp', 'pop', 'retina', 'sc', 'sms', 'swk', 'tel', 'vbm'],
    },
  },
};

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function readForm(req) {
  return new Promise((ok, fail) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
      if (body.length > 64 * 1024) fail(new Error('form too large'));
    });
    req.on('end', () => ok(new URLSearchParams(body)));
    req.on('error', fail);
  });
}

/**
 * @param {object} o
 * @param {string} o.clientId      the Client ID entered in the external method
 * @param {string} o.appId         the App ID: the `aud` of the hints
 * @param {string} o.tid           the directory tenant id
 * @param {string} o.discoveryUrl  the provider's discovery URL, as entered
 * @param {object} o.claims        the `claims` parameter sent
 * @param {string[]} o.amrAccepted methods accepted in the answer
 */
export async function startRelyingParty({ clientId, appId, tid, discoveryUrl, claims, amrAccepted }) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const kid = randomBytes(12).toString('base64url');
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
  const sessions = new Map(); // state -> { nonce, sub, oid }
  const results = new Map(); // id -> what the post back gave
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, base);
    try {
      if (req.method === 'GET' && url.pathname === '/common/discovery/v2.0/keys') {
        return send(res, 200, 'application/json', JSON.stringify({ keys: [jwk] }));
      }
      if (req.method === 'GET' && url.pathname === '/common/v2.0/.well-known/openid-configuration') {
        return send(res, 200, 'application/json', JSON.stringify({
          issuer: `${base}/{tenantid}/v2.0`,
          jwks_uri: `${base}/common/discovery/v2.0/keys`,
          id_token_signing_alg_values_supported: ['RS256'],
        }));
      }
      if (req.method === 'GET' && url.pathname === '/start') return await start(url, res);
      if (req.method === 'POST' && url.pathname === '/common/federation/externalauthprovider') {
        const id = randomBytes(12).toString('base64url');
        results.set(id, await answer(await readForm(req)));
        res.writeHead(303, { location: `/done?id=${id}` });
        return res.end();
      }
      if (req.method === 'GET' && url.pathname === '/done') {
        const r = results.get(url.searchParams.get('id')) ?? { ok: false, error: 'unknown result' };
        return send(res, 200, 'text/html', `<!doctype html><title>Sign-in result</title><pre id="result">${escape(JSON.stringify(r))}</pre>`);
      }
      send(res, 404, 'text/plain', 'not found');
    } catch (e) {
      send(res, 500, 'text/plain', String(e));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  // `localhost`, while the shim is `127.0.0.1`: another site, as Entra is.
  const base = `http://localhost:${server.address().port}`;
  const issuer = `${base}/${tid}/v2.0`;

  async function start(url, res) {
    const oid = url.searchParams.get('user');
    const meta = await (await fetch(discoveryUrl)).json();
    const now = Math.floor(Date.now() / 1000);
    const sub = `pairwise-${randomBytes(8).toString('hex')}`;
    // The documented default claims of the hint; issued expired on purpose.
    const hint = await new SignJWT({
      ver: '2.0', tid, oid, name: 'Test User', preferred_username: `${oid}@contoso.test`,
    })
      .setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid })
      .setIssuer(issuer)
      .setSubject(sub)
      .setAudience(appId)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now - 1)
      .sign(privateKey);
    const state = randomBytes(16).toString('base64url');
    const nonce = randomBytes(16).toString('base64url');
    sessions.set(state, { nonce, sub, oid });
    const params = {
      scope: 'openid',
      response_type: 'id_token',
      response_mode: 'form_post',
      client_id: clientId,
      redirect_uri: `${base}/common/federation/externalauthprovider`,
      nonce,
      state,
      id_token_hint: hint,
      claims: JSON.stringify(claims),
      'client-request-id': crypto.randomUUID(),
    };
    const fields = Object.entries(params)
      .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
      .join('');
    send(res, 200, 'text/html', `<!doctype html><title>Redirecting</title><body onload="document.forms[0].submit()"><form method="post" action="${escape(meta.authorization_endpoint)}">${fields}<noscript><button>Continue</button></noscript></form></body>`);
  }

  /** Validate the post back as Entra documents it. */
  async function answer(form) {
    const state = form.get('state');
    const session = sessions.get(state);
    if (!session) return { ok: false, error: 'unknown or replayed state' };
    sessions.delete(state);
    if (form.has('error')) return { ok: false, error: form.get('error'), description: form.get('error_description') };
    const token = form.get('id_token');
    if (!token) return { ok: false, error: 'no id_token' };
    // Keys only through the configured discovery URL, never the token's iss.
    const meta = await (await fetch(discoveryUrl)).json();
    const expectedIssuer = discoveryUrl.replace(/\/\.well-known\/openid-configuration$/, '');
    if (meta.issuer !== expectedIssuer) return { ok: false, error: `discovery issuer ${meta.issuer}` };
    const keysResponse = await fetch(meta.jwks_uri);
    const { keys } = await keysResponse.json();
    const { kid: tokenKid, alg } = decodeProtectedHeader(token);
    if (alg !== 'RS256') return { ok: false, error: `alg ${alg}` };
    const key = keys.find((k) => k.kid === tokenKid);
    if (!key) return { ok: false, error: `kid ${tokenKid} not in the JWKS` };
    if (key.use !== 'sig' || !Array.isArray(key.x5c) || key.x5c.length < 1) {
      return { ok: false, error: 'JWKS key without use=sig or x5c' };
    }
    const cert = new X509Certificate(Buffer.from(key.x5c[0], 'base64'));
    const certKey = cert.publicKey.export({ format: 'jwk' });
    if (certKey.n !== key.n || certKey.e !== key.e) return { ok: false, error: 'x5c does not hold the key' };
    if (!cert.verify(cert.publicKey)) return { ok: false, error: 'x5c is not self-signed' };
    const { payload } = await jwtVerify(token, await importJWK(key, 'RS256'), {
      algorithms: ['RS256'],
      issuer: meta.issuer,
      audience: clientId,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'acr', 'amr'],
    });
    if (payload.sub !== session.sub) return { ok: false, error: 'sub is not the hint\'s sub' };
    if (payload.nonce !== session.nonce) return { ok: false, error: 'nonce mismatch' };
    const acrRequested = claims.id_token.acr.values;
    if (typeof payload.acr !== 'string' || !acrRequested.includes(payload.acr)) {
      return { ok: false, error: `acr ${JSON.stringify(payload.acr)}` };
    }
    if (!Array.isArray(payload.amr) || payload.amr.length !== 1 || !amrAccepted.includes(payload.amr[0])) {
      return { ok: false, error: `amr ${JSON.stringify(payload.amr)}` };
    }
    return { ok: true, claims: payload, oid: session.oid, x5c: true };
  }

  return {
    base,
    issuer,
    jwksUrl: `${base}/common/discovery/v2.0/keys`,
    redirectUri: `${base}/common/federation/externalauthprovider`,
    close: () => new Promise((r) => server.close(r)),
  };
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
