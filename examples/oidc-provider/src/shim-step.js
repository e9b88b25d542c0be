// The identity provider's side of the shim's redirect step ("shape A", as Auth0
// redirect actions): mint the session token, send the browser to the shim,
// and check the signed result the shim posts back.

import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';

const enc = new TextEncoder();

/**
 * @param {object} o
 * @param {string} o.shimUrl      the shim's public URL, e.g. http://127.0.0.1:8080
 * @param {string} o.tenant       the tenant id configured in the shim for this IdP
 * @param {string} o.stepSecret   the tenant's `step_secret` (HS256, >= 32 bytes)
 * @param {string} o.apiSecret    the tenant's `hs256_secret` (JSON API bearer tokens)
 * @param {string} o.issuer       this IdP's issuer (the tenant's `issuer`)
 * @param {string} [o.audience]   the tenant's `audience` for API tokens
 */
export function shimStep({ shimUrl, tenant, stepSecret, apiSecret, issuer, audience = 'backup-codes' }) {
  const base = shimUrl.replace(/\/$/, '');
  const stepKey = enc.encode(stepSecret);
  const apiKey = enc.encode(apiSecret);
  const seenResults = new Map(); // jti -> exp (single use of result tokens)

  return {
    /** The URL to send the browser to, and the state to remember for this login. */
    async start({ kind, subject, continueUri }) {
      const state = randomBytes(24).toString('base64url');
      const url = `${base}/step/${encodeURIComponent(tenant)}/${kind}`;
      // `step` names the one step this token opens (login, enroll or regenerate).
      const token = await new SignJWT({ step: kind, state, continue_uri: continueUri })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(subject)
        .setAudience(url)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(randomBytes(16).toString('base64url'))
        .sign(stepKey);
      const target = new URL(url);
      target.searchParams.set('state', state);
      target.searchParams.set('session_token', token);
      return { url: target.toString(), state };
    },

    /**
     * Check the shim's answer: signature, issuer (the shim), audience (us),
     * expiry, that its `state` is the one we sent, its subject, and single use.
     * Returns the `result` claim.
     */
    async finish({ token, state, expectedState, subject }) {
      if (!token || !state || state !== expectedState) throw new Error('state does not match this login');
      const { payload } = await jwtVerify(token, stepKey, {
        algorithms: ['HS256'],
        issuer: base,
        audience: issuer,
        requiredClaims: ['exp', 'iat', 'jti', 'state', 'sub'],
        maxTokenAge: '10m',
      });
      if (payload.state !== expectedState) throw new Error('the result is for another login (state)');
      if (payload.sub !== subject) throw new Error('the result is for another user');
      const now = Math.floor(Date.now() / 1000);
      for (const [jti, exp] of seenResults) if (exp < now) seenResults.delete(jti);
      if (seenResults.has(payload.jti)) throw new Error('the result was replayed');
      seenResults.set(payload.jti, payload.exp);
      return payload.result;
    },

    /** The subject's backup-code status through the shim's JSON API (null: none). */
    async status(subject) {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(subject)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('2m')
        .setJti(randomBytes(16).toString('base64url'))
        .sign(apiKey);
      const url = `${base}/v1/tenants/${encodeURIComponent(tenant)}/subjects/${encodeURIComponent(subject)}/codes`;
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.json().catch(() => ({}));
      if (res.status === 404 && body.error === 'not_enrolled') return null;
      if (!res.ok) throw new Error(`the shim's status call answered ${res.status} ${body.error ?? ''}`);
      return body;
    },
  };
}
