// An OpenID provider built on `oidc-provider` (OpenID Certified) whose login
// interaction is: password, then backup codes, either
//  - through the shim's redirect step (mode "shim", the default): the browser
//    goes to the shim with a signed session token and comes back with a signed
//    result; first login (no codes yet) goes through the shim's enrolment step;
//  - or through the component loaded in this process by jco (mode "component").
//
// The ID token carries `acr` and `amr`: ACR.backupCode and ["pwd", "otp"] after
// a backup code, ACR.password and ["pwd"] after a login by password alone (a
// first login that enrolled codes, or the shim's self-service for a user who
// has no codes yet), and a `backup_code` claim (scope `backup_code`)
// describing the last use: {number, remaining, set_id, low}.
//
// A session signed in with the password alone does not carry over once the
// user has codes: the next authorization asks for the password and a code.

import { createServer } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import Provider, { interactionPolicy } from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';
import { esc, page, readForm, redirect, sendPage } from './html.js';
import { shimStep } from './shim-step.js';
import { formatError } from './local-codes.js';

/**
 * The authentication context classes this provider signs users in with (the
 * ID token's `acr`): the password alone, or the password then a backup code.
 */
export const ACR = Object.freeze({
  password: 'urn:backup-codes-example:acr:password',
  backupCode: 'urn:backup-codes-example:acr:password+backup-code',
});

/** Demo users: name -> password. */
export const USERS = new Map([
  ['alice', 'correct horse battery staple'],
  ['bob', 'tr0ub4dor&3'],
]);

const FORMAT_MESSAGES = {
  'empty': 'Type one of your backup codes.',
  'too-long': 'That is longer than a backup code.',
  'invalid-character': 'That contains characters that are not in backup codes.',
  'wrong-length': 'That code has the wrong number of characters.',
  'check-symbol-mismatch': 'That code has a typo (its check character does not match).',
};

function equalText(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Start the provider on 127.0.0.1.
 * @param {object} o
 * @param {number} [o.port]        0 for any free port
 * @param {object[]} o.clients     oidc-provider client metadata
 * @param {'shim'|'component'} [o.mode]
 * @param {object} [o.shim]        {url, tenant, stepSecret, apiSecret} for mode "shim"
 * @param {object} [o.codes]       a `localCodes(...)` instance for mode "component"
 * @param {string} [o.selfServiceClientId]  the client of the shim's self-service
 *   (`/self/{tenant}/`): a user without codes signs in there with the password
 *   alone (they come to make their codes), not through the enrolment step
 */
export async function startProvider({ port = 0, clients, mode = 'shim', shim, codes, selfServiceClientId }) {
  let handler = (req, res) => { res.writeHead(503); res.end(); };
  const server = createServer((req, res) => handler(req, res));
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const issuer = `http://127.0.0.1:${server.address().port}`;

  // Per-user state this example keeps in memory: the last backup-code result
  // (for the ID token claim) and, in component mode, nothing else.
  const lastUse = new Map();
  // Logins waiting for the second factor, by interaction uid (single use).
  const pending = new Map();

  const step = mode === 'shim'
    ? shimStep({ shimUrl: shim.url, tenant: shim.tenant, stepSecret: shim.stepSecret, apiSecret: shim.apiSecret, issuer })
    : null;
  /** Does `user` have an active set of backup codes? */
  const hasCodes = async (user) => Boolean(mode === 'shim' ? (await step.status(user))?.active : codes.status(user)?.active);

  // The default policy, and one more reason to ask for a login: the session
  // was signed in with the password alone and the user has codes by now (made
  // at the shim's self-service, or at the enrolment step of that very login).
  const policy = interactionPolicy.base();
  policy.get('login').checks.add(new interactionPolicy.Check(
    'second_factor_required',
    'the account has backup codes and this session was signed in with the password alone',
    async (ctx) => {
      const { session, result } = ctx.oidc;
      if (!session.accountId || result?.login || session.acr === ACR.backupCode) {
        return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      }
      return (await hasCodes(session.accountId))
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    },
  ));

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'example-1', use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // The default pages load web fonts; these use nothing external.
        logoutSource(ctx, form) {
          ctx.body = page('Sign out', `${form}
<p>Sign out of the example provider?</p>
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
        },
        postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<p>You are signed out.</p>');
        },
      },
    },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'backup_code'],
    acrValues: [ACR.password, ACR.backupCode],
    claims: {
      acr: null, amr: null, sid: null, auth_time: null, iss: null,
      openid: ['sub', 'acr', 'amr', 'auth_time'], profile: ['name'], backup_code: ['backup_code'],
    },
    conformIdTokenClaims: false,
    interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      if (!USERS.has(sub)) return undefined;
      return {
        accountId: sub,
        async claims() {
          const use = lastUse.get(sub);
          return { sub, name: sub, ...(use ? { backup_code: use } : {}) };
        },
      };
    },
  });

  const oidc = provider.callback();

  async function finishInteraction(res, uid, result) {
    const interaction = await provider.Interaction.find(uid);
    if (!interaction) {
      sendPage(res, 400, 'Sign-in expired', '<p class="error">This sign-in attempt expired. Start again from the application.</p>');
      return;
    }
    interaction.result = result;
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
    redirect(res, interaction.returnTo);
  }

  function passwordPage(res, uid, error, status = 200) {
    sendPage(res, status, 'Sign in', `
<p>Example OpenID provider: sign in with a password, then a backup code.</p>
${error ? `<p class="error" id="err">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required autofocus${error ? ' aria-describedby="err"' : ''}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`);
  }

  function localCodePage(res, uid, error, status = 200) {
    sendPage(res, status, 'Enter a backup code', `
<p>This provider checks the code itself, with the backup-code component loaded through jco.</p>
${error ? `<p class="error" id="code-error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/local-code">
<label for="code">Backup code</label>
<input id="code" name="code" autocomplete="one-time-code" inputmode="text" autocapitalize="characters" spellcheck="false" required autofocus${error ? ' aria-describedby="code-error" aria-invalid="true"' : ''}>
<button type="submit">Continue</button>
</form>`);
  }

  async function routes(req, res) {
    const url = new URL(req.url, issuer);
    const m = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)(?:\/([a-z-]+))?$/);
    if (!m) return oidc(req, res);
    const [, uid, action] = m;

    if (req.method === 'GET' && !action) {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'consent') {
        // First-party client: grant what it asked for.
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
        if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
        if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
        const grantId = await grant.save();
        return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      return passwordPage(res, uid);
    }

    if (req.method === 'POST' && action === 'login') {
      const details = await provider.interactionDetails(req, res); // the interaction cookie must match
      const form = await readForm(req);
      const user = form.get('username') ?? '';
      const password = USERS.get(user);
      if (!password || !equalText(password, form.get('password') ?? '')) {
        return passwordPage(res, uid, 'Wrong user name or password.', 401);
      }
      if (mode === 'component') {
        if (!(await hasCodes(user))) {
          return sendPage(res, 409, 'No backup codes', '<p class="error">This user has no backup codes yet. In component mode, enrol with <code>codes.issue()</code> (see the README).</p>');
        }
        pending.set(uid, { user, kind: 'login', exp: Date.now() + 10 * 60_000 });
        return localCodePage(res, uid);
      }
      const enrolled = await hasCodes(user);
      if (!enrolled && selfServiceClientId && details.params.client_id === selfServiceClientId) {
        return finishInteraction(res, uid, { login: { accountId: user, acr: ACR.password, amr: ['pwd'], remember: true } });
      }
      const kind = enrolled ? 'login' : 'enroll';
      const { url: target, state } = await step.start({
        kind,
        subject: user,
        continueUri: `${issuer}/interaction/${uid}/continue`,
      });
      pending.set(uid, { user, kind, state, exp: Date.now() + 10 * 60_000 });
      return redirect(res, target);
    }

    if (req.method === 'POST' && action === 'continue') {
      // The shim's signed result. This POST may come cross-site, without the
      // interaction cookie: the interaction is found by uid, and the result
      // must carry the state this provider sent for it.
      const form = await readForm(req);
      const wait = pending.get(uid);
      pending.delete(uid);
      if (!wait || wait.exp < Date.now() || !wait.state) {
        return sendPage(res, 400, 'Sign-in expired', '<p class="error">This sign-in attempt is unknown or expired. Start again from the application.</p>');
      }
      let result;
      try {
        result = await step.finish({
          token: form.get('session_token'),
          state: form.get('state'),
          expectedState: wait.state,
          subject: wait.user,
        });
      } catch (e) {
        return sendPage(res, 400, 'Sign-in refused', `<p class="error">The second step's answer was refused: ${esc(e.message)}.</p>`);
      }
      if (result?.status !== 'success' || result.method !== 'backup_code') {
        return finishInteraction(res, uid, {
          error: 'access_denied',
          error_description: `backup code step failed: ${result?.reason ?? 'unknown'}`,
        });
      }
      if (result.action === 'verify') {
        lastUse.set(wait.user, { number: result.number, remaining: result.remaining, set_id: result.set_id, low: result.low });
        return finishInteraction(res, uid, { login: { accountId: wait.user, acr: ACR.backupCode, amr: ['pwd', 'otp'], remember: true } });
      }
      if (result.action === 'enroll' && wait.kind === 'enroll') {
        lastUse.delete(wait.user);
        return finishInteraction(res, uid, { login: { accountId: wait.user, acr: ACR.password, amr: ['pwd'], remember: true } });
      }
      return sendPage(res, 400, 'Sign-in refused', '<p class="error">The second step answered for another kind of step.</p>');
    }

    if (req.method === 'POST' && action === 'local-code' && mode === 'component') {
      const wait = pending.get(uid);
      const form = await readForm(req);
      if (!wait || wait.exp < Date.now()) {
        return sendPage(res, 400, 'Sign-in expired', '<p class="error">This sign-in attempt expired. Start again from the application.</p>');
      }
      // One component call answers the attempt: everything below comes from `v`.
      let v;
      try {
        v = codes.verify(wait.user, form.get('code') ?? '');
      } catch (e) {
        const f = formatError(e);
        if (f) return localCodePage(res, uid, FORMAT_MESSAGES[f] ?? 'That is not a backup code.', 422);
        throw e;
      }
      if (v.outcome.tag === 'accepted') {
        pending.delete(uid);
        lastUse.set(wait.user, { number: v.outcome.val, remaining: v.remaining, set_id: v.setId, low: v.low });
        return finishInteraction(res, uid, { login: { accountId: wait.user, acr: ACR.backupCode, amr: ['pwd', 'otp'], remember: true } });
      }
      if (v.outcome.tag === 'rejected') {
        let why = 'That code is not right.';
        if (v.outcome.val.reason === 'already-used') why = 'That code was already used.';
        else if (v.replacedSet) why = 'That code is from a set of backup codes that was replaced: use a code from your newest set.';
        if (v.lock.tag === 'until') {
          const seconds = Math.max(1, Number(v.lock.val) - Math.floor(Date.now() / 1000));
          why += ` Too many wrong codes: try again in ${seconds} seconds.`;
        } else if (v.lock.tag === 'permanent') {
          why += ' Too many wrong codes: these backup codes are locked until a new set is made.';
        }
        return localCodePage(res, uid, why, 403);
      }
      pending.delete(uid);
      return finishInteraction(res, uid, { error: 'access_denied', error_description: `backup codes ${v.outcome.tag}` });
    }

    return sendPage(res, 404, 'Not found', '<p>No such page.</p>');
  }

  handler = (req, res) => {
    routes(req, res).catch((e) => {
      if (!res.headersSent) sendPage(res, 500, 'Error', `<p class="error">${esc(e.message)}</p>`);
      else res.end();
    });
  };

  return {
    issuer,
    provider,
    lastUse,
    close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }),
  };
}
