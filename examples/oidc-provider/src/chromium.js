// Debian's Chromium for the browser tests, started the way this machine allows
// (no sandbox as root, no background networking); playwright-core never
// downloads a browser.

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
