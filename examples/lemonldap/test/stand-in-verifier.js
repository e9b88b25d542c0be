// STAND-IN for the backup-code shim's REST verification endpoint, used only
// until the shim is plugged in (see README.md, "Plugging in the shim").
//
// It speaks LemonLDAP::NG's REST second-factor contract (Portal/2F/REST.pm and
// Lib/REST.pm): LemonLDAP::NG POSTs JSON `{"user", "code", <rest2fVerifyArgs>...}`
// to rest2fVerifyUrl (and `{"user", <rest2fInitArgs>...}` to rest2fInitUrl when
// the form is shown); a 2xx answer with a JSON object whose `result` is true lets
// the user in. Credentials in the URL arrive as `Authorization: Basic`.
//
// This stand-in holds no codes: it accepts exactly one code given to it, answers
// `{"result": false}` for any other, refuses requests without the right Basic
// credentials (401), and records every request (method, path, headers, body) so
// the test can show what LemonLDAP::NG sent. `mode` makes it misbehave on
// purpose: 'down' (connection refused), 'hang' (never answers), 'error' (HTTP
// 503), 'string-false' (answers `{"result": "false"}`, which Perl reads as true).

import { createServer } from 'node:http';
import { once } from 'node:events';
import { timingSafeEqual } from 'node:crypto';

/**
 * @param {object} o
 * @param {string} o.username   Basic credentials LemonLDAP::NG must send
 * @param {string} o.password
 * @param {string} o.acceptCode the one code answered with {"result": true}
 */
export async function startStandInVerifier({ username, password, acceptCode }) {
  const requests = [];
  let mode = 'normal';
  const expected = Buffer.from(`Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`);
  const sameSecret = (a, b) => a.length === b.length && timingSafeEqual(a, b);
  const hanging = new Set();

  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body;
    try { body = JSON.parse(raw); } catch { body = undefined; }
    requests.push({ at: new Date().toISOString(), method: req.method, path: req.url, headers: { ...req.headers }, raw, body });
    const answer = (status, obj) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (mode === 'hang') { hanging.add(res); return; }
    if (!sameSecret(Buffer.from(req.headers.authorization ?? ''), expected)) return answer(401, { error: 'unauthorized' });
    if (req.method !== 'POST' || !/^application\/json\b/.test(req.headers['content-type'] ?? '') || typeof body !== 'object' || body === null) {
      return answer(400, { error: 'expected a JSON object' });
    }
    if (req.url === '/init') return answer(200, { result: true });
    if (req.url !== '/verify') return answer(404, { error: 'not found' });
    if (mode === 'error') return answer(503, { error: 'unavailable' });
    if (mode === 'string-false') return answer(200, { result: 'false' });
    const ok = typeof body.code === 'string' && sameSecret(Buffer.from(body.code), Buffer.from(acceptCode));
    return answer(200, { result: ok });
  });

  let port = 0;
  const listen = async () => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = server.address().port;
  };
  const close = async () => {
    for (const res of hanging) res.destroy();
    hanging.clear();
    if (!server.listening) return;
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  await listen();
  const auth = `${encodeURIComponent(username)}:${encodeURIComponent(password)}`;
  return {
    /** For rest2fVerifyUrl / rest2fInitUrl: credentials in the URL. */
    verifyUrl: `http://${auth}@127.0.0.1:${port}/verify`,
    initUrl: `http://${auth}@127.0.0.1:${port}/init`,
    requests,
    /** 'normal' | 'down' | 'hang' | 'error' | 'string-false' */
    async setMode(m) {
      if (m === 'down' && server.listening) await close();
      if (m !== 'down' && !server.listening) await listen(); // same port again
      mode = m;
    },
    stop: close,
  };
}
