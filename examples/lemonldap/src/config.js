// The LemonLDAP::NG configuration of a private test instance, in two parts:
//
// - `bootstrapConfig`: what a Debian install ships and an operator sets once
//   (storage in the instance directory, the Demo user backend, the portal URL and
//   cookie domain). Written as lmConf-1.json, because LemonLDAP::NG's CLI needs
//   a current configuration to change.
// - `settings`: the keys this example documents (OpenID Connect provider and its
//   two relying parties, the REST second factor, authentication levels). Applied
//   with LemonLDAP::NG's own CLI (`lemonldap-ng-cli -safe 1 merge`), so the
//   manager's parser checks every key and value as it would an operator's.
//
// Key names and semantics were read in LemonLDAP::NG 2.16's sources; see
// README.md for which source confirmed which key.

import { createHash, X509Certificate } from 'node:crypto';

/** Defaults of the parameters `start` takes (README.md, "Parameters"). */
export const DEFAULTS = {
  hostname: 'localhost',
  bindAddress: '127.0.0.1',
  rest2f: {
    activation: '1',
    authnLevel: 3,
    label: 'Backup code',
    verifyArgs: {},
    initArgs: {},
    timeout: 10,
  },
  sfOnlyUpgrade: true,
};

/**
 * @param {object} o
 * @param {string} o.dir        the instance directory made by `setup`
 * @param {string} o.portalUrl  e.g. http://localhost:8080/ (with the trailing slash)
 * @param {string} o.hostname   cookie domain (the portal URL's host)
 */
export function bootstrapConfig({ dir, portalUrl, hostname }) {
  return {
    cfgNum: 1,
    cfgAuthor: 'examples/lemonldap/start',
    cfgAuthorIP: '127.0.0.1',
    cfgDate: String(Math.floor(Date.now() / 1000)),
    cfgVersion: '2.16.1',
    cfgLog: 'bootstrap of a private test instance',
    authentication: 'Demo',
    userDB: 'Same',
    passwordDB: 'Demo',
    registerDB: 'Null',
    demoExportedVars: { uid: 'uid', cn: 'cn', mail: 'mail' },
    exportedVars: {},
    whatToTrace: 'uid',
    macros: {},
    groups: {},
    portal: portalUrl,
    domain: hostname,
    cookieName: 'lemonldap',
    securedCookie: 0,
    portalSkin: 'bootstrap',
    portalDisplayRegister: 0,
    locationRules: {},
    exportedHeaders: {},
    applicationList: {},
    reloadUrls: {},
    timeout: 72000,
    globalStorage: 'Apache::Session::File',
    globalStorageOptions: {
      Directory: `${dir}/sessions`,
      LockDirectory: `${dir}/sessions/lock`,
      generateModule: 'Lemonldap::NG::Common::Apache::Session::Generate::SHA256',
    },
    persistentStorage: 'Apache::Session::File',
    persistentStorageOptions: {
      Directory: `${dir}/psessions`,
      LockDirectory: `${dir}/psessions/lock`,
    },
    localSessionStorage: 'Cache::FileCache',
    localSessionStorageOptions: {
      namespace: 'lemonldap-ng-sessions',
      cache_root: `${dir}/cache`,
      cache_depth: 3,
      default_expires_in: 600,
      directory_umask: '007',
    },
    notification: 0,
    notificationStorage: 'File',
    notificationStorageOptions: { dirName: `${dir}/notifications` },
    loginHistoryEnabled: 1,
  };
}

/** The `kid` of the signing key: a short digest of its certificate. */
export function keyId(certPem) {
  const der = new X509Certificate(certPem).raw;
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

const bool = (v) => (v ? 1 : 0);

/**
 * One relying party's options (oidcRPMetaDataOptions.<confKey>).
 * @param {object} rp {clientId, clientSecret, redirectUris[], authnLevel?,
 *   pkce? (default true), postLogoutRedirectUris?[]}
 */
function relyingParty(rp) {
  if (!rp.clientId || !rp.clientSecret || !rp.redirectUris?.length) {
    throw new Error('a relying party needs clientId, clientSecret and redirectUris');
  }
  return {
    oidcRPMetaDataOptionsClientID: rp.clientId,
    oidcRPMetaDataOptionsClientSecret: rp.clientSecret,
    oidcRPMetaDataOptionsRedirectUris: rp.redirectUris.join(' '),
    ...(rp.postLogoutRedirectUris?.length
      ? { oidcRPMetaDataOptionsPostLogoutRedirectUris: rp.postLogoutRedirectUris.join(' ') }
      : {}),
    oidcRPMetaDataOptionsIDTokenSignAlg: 'RS256',
    oidcRPMetaDataOptionsBypassConsent: 1,
    oidcRPMetaDataOptionsRequirePKCE: bool(rp.pkce ?? true),
    oidcRPMetaDataOptionsIDTokenForceClaims: 1,
    ...(rp.authnLevel != null ? { oidcRPMetaDataOptionsAuthnLevel: rp.authnLevel } : {}),
    ...(rp.displayName ? { oidcRPMetaDataOptionsDisplayName: rp.displayName } : {}),
  };
}

/**
 * The settings merged with LemonLDAP::NG's CLI.
 * @param {object} p
 * @param {string} p.issuer
 * @param {string} p.privateKeyPem
 * @param {string} p.certPem
 * @param {Record<string, object>} p.relyingParties  conf key -> relyingParty() input
 * @param {object} p.rest2f {verifyUrl, initUrl?, verifyArgs?, initArgs?, authnLevel?,
 *   label?, logo?, activation?, timeout?}
 * @param {boolean} [p.sfOnlyUpgrade]
 * @param {object} [p.lemonldap]  further LemonLDAP::NG keys, merged last
 */
export function settings({ issuer, privateKeyPem, certPem, relyingParties, rest2f, sfOnlyUpgrade, lemonldap }) {
  const r = { ...DEFAULTS.rest2f, ...rest2f };
  if (!r.verifyUrl) throw new Error('rest2f.verifyUrl is required');
  const rps = Object.entries(relyingParties ?? {});
  if (!rps.length) throw new Error('at least one relying party is required');
  const s = {
    // OpenID Connect provider.
    issuerDBOpenIDConnectActivation: 1,
    oidcServiceMetaDataIssuer: issuer,
    oidcServicePrivateKeySig: privateKeyPem,
    oidcServicePublicKeySig: certPem,
    oidcServiceKeyIdSig: keyId(certPem),
    oidcServiceAllowImplicitFlow: 0,
    oidcServiceAllowHybridFlow: 0,
    oidcRPMetaDataOptions: Object.fromEntries(rps.map(([k, rp]) => [k, relyingParty(rp)])),
    oidcRPMetaDataExportedVars: Object.fromEntries(
      rps.map(([k]) => [k, { email: 'mail', name: 'cn', preferred_username: 'uid' }]),
    ),
    // REST second factor: LemonLDAP::NG's own form, the code checked by a POST.
    rest2fActivation: String(r.activation),
    rest2fVerifyUrl: r.verifyUrl,
    ...(r.initUrl ? { rest2fInitUrl: r.initUrl } : {}),
    rest2fVerifyArgs: r.verifyArgs,
    rest2fInitArgs: r.initArgs,
    ...(r.authnLevel != null ? { rest2fAuthnLevel: r.authnLevel } : {}),
    ...(r.label ? { rest2fLabel: r.label } : {}),
    ...(r.logo ? { rest2fLogo: r.logo } : {}),
    // Ask for the second factor only when the target needs a higher level.
    sfOnlyUpgrade: bool(sfOnlyUpgrade ?? DEFAULTS.sfOnlyUpgrade),
    // Outgoing HTTP (the REST calls): LWP's default timeout is 180 s, during
    // which a single-process portal answers nobody.
    lwpOpts: { timeout: r.timeout },
  };
  return { ...s, ...(lemonldap ?? {}) };
}
