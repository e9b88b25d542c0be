// The application's HTTP server: Better Auth under /api/auth, the pages
// beside it.
import { createServer } from 'node:http';
import { fromNodeHeaders, toNodeHandler } from 'better-auth/node';
import * as pages from './pages.js';

/** An HTTP server for `auth` (not listening yet). */
export function createApp(auth) {
  return createServer(handler(auth));
}

/** The application's request handler for `auth`. */
export function handler(auth) {
  const api = toNodeHandler(auth);
  return async (req, res) => {
    const html = (status, body) => {
      res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
        'x-frame-options': 'DENY',
      });
      res.end(body);
    };
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path.startsWith('/api/auth/')) return await api(req, res);
      if (req.method !== 'GET') return html(405, 'Method not allowed');
      if (path === '/sign-up') return html(200, pages.signUp());
      if (path === '/sign-in') return html(200, pages.signIn());
      if (path === '/two-factor') return html(200, pages.twoFactorStep());
      if (path === '/account' || path === '/') {
        const headers = fromNodeHeaders(req.headers);
        const session = await auth.api.getSession({ headers });
        if (!session) {
          res.writeHead(303, { location: '/sign-in' });
          return res.end();
        }
        const status = await auth.api.componentBackupCodeStatus({ headers });
        return html(200, pages.account(session.user, status));
      }
      return html(404, 'Not found');
    } catch (e) {
      console.error('request failed', e);
      if (!res.headersSent) html(500, 'Something went wrong');
      else res.end();
    }
  };
}
