// The application's Better Auth: email and password, TOTP as the usual second
// factor, and backup codes from the component (authn-backup-codes/better-auth):
// Better Auth's two-factor plugin makes none of its own.
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { twoFactor } from 'better-auth/plugins/two-factor';
import { backupCodes, twoFactorBackupCodeOptions } from 'authn-backup-codes/better-auth';

/**
 * Better Auth's options for this application.
 * @param {{ database: Database.Database, secret: string, baseURL: string,
 *   freshSignInSeconds?: number, onEvent?: (e: object) => void, host?: object }} settings
 */
export function authOptions({ database, secret, baseURL, freshSignInSeconds, onEvent, host }) {
  return {
    appName: 'Backup codes example',
    database,
    secret,
    baseURL,
    emailAndPassword: { enabled: true },
    plugins: [
      twoFactor({ issuer: 'Backup codes example', backupCodeOptions: twoFactorBackupCodeOptions }),
      backupCodes({ freshSignInSeconds, onEvent, host }),
    ],
  };
}

/** Open (or create) the SQLite database, bring its schema up to date, and start Better Auth. */
export async function createAuth(settings) {
  const database = new Database(settings.databaseFile);
  // Deleted and overwritten values are zeroed in the file, not left in free
  // space: Better Auth's encrypted codes, once imported, are gone from the disk too.
  database.pragma('secure_delete = ON');
  const options = authOptions({ ...settings, database });
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  return { auth: betterAuth(options), database };
}
