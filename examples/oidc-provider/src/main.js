// `npm start`: run the example by hand.
//   npm start                 shim mode: starts the shim binary, the provider and the app
//   npm start -- --component  component mode: the provider checks codes itself (jco)
import { startStack } from './stack.js';
import { startProvider } from './provider.js';
import { startRp } from './rp.js';
import { loadEngine, localCodes } from './local-codes.js';
import { randomBytes } from 'node:crypto';

if (process.argv.includes('--component')) {
  const codes = localCodes(await loadEngine());
  const issued = codes.issue('alice');
  codes.activate('alice', issued.codes[0].code);
  const secret = randomBytes(32).toString('base64url');
  let issuer = '';
  const rp = await startRp({ clientId: 'example-app', clientSecret: secret, issuer: () => issuer });
  const idp = await startProvider({
    mode: 'component',
    codes,
    clients: [{
      client_id: 'example-app', client_secret: secret, redirect_uris: [rp.redirectUri],
      post_logout_redirect_uris: [`${rp.base}/`], grant_types: ['authorization_code'], response_types: ['code'],
    }],
  });
  issuer = idp.issuer;
  console.log(`Component mode. alice's backup codes (set ${issued.fingerprint}), shown once:`);
  for (const c of issued.codes) console.log(`  ${String(c.number).padStart(2)}. ${c.code}`);
  console.log(`\nOpen ${rp.base}/ and sign in as alice / "correct horse battery staple".`);
} else {
  const stack = await startStack({ quiet: false });
  console.log(`shim ${stack.shimUrl}\nprovider ${stack.issuer}\n\nOpen ${stack.rp.base}/ and sign in as alice / "correct horse battery staple".`);
  console.log(`Self-service (make, see, replace codes): ${stack.selfServiceUrl}`);
  const stop = async () => { await stack.stop(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
