// Headless Chromium from Debian (CHROMIUM, default /usr/bin/chromium), never a
// downloaded one; the flags this machine needs (root: no sandbox).

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
