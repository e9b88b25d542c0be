// Run the example: node src/main.js (PORT, DATABASE_FILE, BETTER_AUTH_SECRET,
// BASE_URL and FRESH_SIGN_IN_SECONDS from the environment).
import { randomBytes } from 'node:crypto';
import { createAuth } from './auth.js';
import { createApp } from './server.js';

const port = Number(process.env.PORT ?? 3000);
const baseURL = process.env.BASE_URL ?? `http://127.0.0.1:${port}`;
const secret = process.env.BETTER_AUTH_SECRET ?? randomBytes(32).toString('base64');
if (!process.env.BETTER_AUTH_SECRET) {
  console.warn('BETTER_AUTH_SECRET is unset: a random one is used, so sessions end with this process');
}
const { auth } = await createAuth({
  databaseFile: process.env.DATABASE_FILE ?? 'better-auth.db',
  secret,
  baseURL,
  freshSignInSeconds: process.env.FRESH_SIGN_IN_SECONDS ? Number(process.env.FRESH_SIGN_IN_SECONDS) : undefined,
  // Where a real application would e-mail the user (a code used, a new set).
  onEvent: ({ userId, event }) => console.log(JSON.stringify({ backupCodeEvent: event.tag, userId })),
});
createApp(auth).listen(port, '127.0.0.1', () => console.log(`listening on ${baseURL}`));
