// Tiny HTML helpers for the example's own pages (the provider's and the RP's).

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for HTML content and attribute values. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const STYLE = `body{font:1rem/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}
label{display:block;font-weight:600;margin-top:.75rem}input{font:inherit;width:100%;padding:.5rem}
button{font:inherit;padding:.5rem 1rem;margin-top:1rem}.error{color:#b42318;font-weight:600}
pre{overflow-x:auto;border:1px solid #ccc;padding:.75rem}code{font-size:1.05rem}`;

/** A complete page. `body` is trusted HTML built with `esc` for every value. */
export function page(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${esc(title)}</h1>
${body}
</main>
</body>
</html>`;
}

/** Send an HTML page. */
export function sendPage(res, status, title, body, headers = {}) {
  const html = page(title, body);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(html);
}

/** Read an `application/x-www-form-urlencoded` body (at most 16 KiB). */
export async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Cookies of a request as a Map. */
export function cookies(req) {
  const out = new Map();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

/** A 303 redirect. */
export function redirect(res, location, headers = {}) {
  res.writeHead(303, { location, 'cache-control': 'no-store', ...headers });
  res.end();
}
