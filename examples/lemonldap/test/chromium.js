// Debian's Chromium for the browser test, started the way these machines allow
// (no sandbox as root, no background networking); playwright-core never
// downloads a browser. CHROMIUM names another binary.

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
