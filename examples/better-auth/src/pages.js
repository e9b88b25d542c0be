// The application's pages: plain HTML with a little script that calls Better
// Auth's HTTP API (and the backup-code plugin's) with fetch. Every message a
// page shows comes from the API's answer.

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const SCRIPT = `
async function call(path, body, method = 'POST') {
  const r = await fetch('/api/auth' + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json().catch(() => ({}));
  return { ok: r.ok, status: r.status, data };
}
function show(id, text) { const el = document.getElementById(id); el.textContent = text; el.hidden = !text; }
function refusal(res) {
  let text = res.data.message || ('Refused (' + res.status + ')');
  if (res.data.retryAfter) text += ' (retry in ' + res.data.retryAfter + ' s)';
  return text;
}
function form(id, handler) {
  document.getElementById(id)?.addEventListener('submit', async (e) => {
    e.preventDefault();
    await handler(Object.fromEntries(new FormData(e.target)));
  });
}
`;

function page(title, body, script = '') {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
label{display:block;margin:.5rem 0}input{font:inherit;padding:.3rem}
.error{color:#a00}.codes{font-family:monospace;font-size:1.1rem;columns:2}
[hidden]{display:none}</style></head>
<body><h1>${escape(title)}</h1>${body}
<script>${SCRIPT}${script}</script></body></html>`;
}

export function signUp() {
  return page('Create an account', `
<form id="sign-up">
  <label>Name <input name="name" required></label>
  <label>Email <input name="email" type="email" required></label>
  <label>Password <input name="password" type="password" minlength="8" required></label>
  <button>Create account</button>
</form>
<p id="error" class="error" role="alert" hidden></p>
<p><a href="/sign-in">Sign in</a></p>`, `
form('sign-up', async (f) => {
  const res = await call('/sign-up/email', f);
  if (res.ok) location.href = '/account'; else show('error', refusal(res));
});`);
}

export function signIn() {
  return page('Sign in', `
<form id="sign-in">
  <label>Email <input name="email" type="email" required></label>
  <label>Password <input name="password" type="password" required></label>
  <button>Sign in</button>
</form>
<p id="error" class="error" role="alert" hidden></p>
<p><a href="/sign-up">Create an account</a></p>`, `
form('sign-in', async (f) => {
  const res = await call('/sign-in/email', f);
  if (!res.ok) return show('error', refusal(res));
  location.href = res.data.twoFactorRedirect ? '/two-factor' : '/account';
});`);
}

export function twoFactorStep() {
  return page('Two-step verification', `
<form id="totp">
  <label>Code from your authenticator app <input name="code" inputmode="numeric" autocomplete="one-time-code"></label>
  <button>Verify</button>
</form>
<h2>Lost your phone?</h2>
<form id="backup-code">
  <label>One of your backup codes <input name="code" autocomplete="off" spellcheck="false"></label>
  <button>Use backup code</button>
</form>
<p id="error" class="error" role="alert" hidden></p>`, `
form('totp', async (f) => {
  const res = await call('/two-factor/verify-totp', { code: f.code });
  if (res.ok) location.href = '/account'; else show('error', refusal(res));
});
form('backup-code', async (f) => {
  const res = await call('/two-factor/verify-backup-code', { code: f.code });
  if (res.ok) location.href = '/account'; else show('error', refusal(res));
});`);
}

/** The signed-in user's page: two-factor, backup codes, sign out. */
export function account(user, status) {
  const codes = status.enrolled
    ? `<p id="status">${status.remaining} of ${status.total} backup codes left${status.low ? ' (running low: make a new set)' : ''}${status.exhausted ? ' (all used: make a new set)' : ''}${status.imported ? ' (carried over from before: make a new set)' : ''}.</p>`
    : '<p id="status">No backup codes yet.</p>';
  return page('Your account', `
<p>Signed in as <strong id="email">${escape(user.email)}</strong>.</p>
<h2>Two-step verification</h2>
${user.twoFactorEnabled ? '<p id="two-factor-on">On: an authenticator app.</p>' : `
<form id="enable-2fa">
  <label>Password <input name="password" type="password" required></label>
  <button>Turn on two-step verification</button>
</form>
<div id="totp-setup" hidden>
  <p>Add this key to your authenticator app: <code id="totp-uri"></code></p>
  <form id="confirm-totp"><label>Code from the app <input name="code" inputmode="numeric"></label><button>Confirm</button></form>
</div>`}
<h2>Backup codes</h2>
${codes}
<form id="generate"><button>${status.enrolled ? 'Make a new set of backup codes' : 'Make backup codes'}</button></form>
<div id="new-codes" hidden>
  <p>Save these codes now: they are shown once. Each works once. Set <span id="fingerprint"></span>.</p>
  <ol id="codes" class="codes"></ol>
  <form id="activate"><label>Type one of them back to show you saved them <input name="code" autocomplete="off" spellcheck="false"></label>
  <button>I saved them</button></form>
</div>
<p id="message" role="status" hidden></p>
<p id="error" class="error" role="alert" hidden></p>
<form id="sign-out"><button>Sign out</button></form>`, `
let setId = null;
form('enable-2fa', async (f) => {
  const res = await call('/two-factor/enable', { password: f.password });
  if (!res.ok) return show('error', refusal(res));
  document.getElementById('totp-uri').textContent = res.data.totpURI;
  document.getElementById('totp-setup').hidden = false;
});
form('confirm-totp', async (f) => {
  const res = await call('/two-factor/verify-totp', { code: f.code });
  if (res.ok) location.reload(); else show('error', refusal(res));
});
form('generate', async () => {
  show('error', '');
  const res = await call('/backup-codes/generate', {});
  if (!res.ok) return show('error', refusal(res));
  setId = res.data.setId;
  const list = document.getElementById('codes');
  list.replaceChildren(...res.data.codes.map((c) => Object.assign(document.createElement('li'), { textContent: c })));
  document.getElementById('fingerprint').textContent = res.data.fingerprint;
  document.getElementById('new-codes').hidden = false;
});
form('activate', async (f) => {
  show('error', '');
  const res = await call('/backup-codes/activate', { code: f.code, setId });
  if (!res.ok) return show('error', refusal(res));
  document.getElementById('new-codes').hidden = true;
  document.getElementById('codes').replaceChildren();
  show('message', 'Saved: your backup codes are ready.');
  location.reload();
});
form('sign-out', async () => {
  await call('/sign-out', {});
  location.href = '/sign-in';
});`);
}
