/**
 * What the plugin answers, as Better Auth error codes: every refusal has a
 * stable `code` for the application's UI and a message that never holds a
 * code, a digest or credential bytes.
 */
import { defineErrorCodes } from 'better-auth';

export const BACKUP_CODE_ERRORS = defineErrorCodes({
  INVALID_BACKUP_CODE: 'That backup code is not right',
  BACKUP_CODE_ALREADY_USED: 'That backup code was already used',
  BACKUP_CODE_TYPO: 'That does not look like one of your backup codes: check it for a typo (nothing was counted)',
  BACKUP_CODES_LOCKED: 'Too many wrong backup codes: try again later',
  BACKUP_CODES_LOCKED_PERMANENTLY: 'Too many wrong backup codes: sign in another way and make a new set',
  BACKUP_CODES_EXHAUSTED: 'Every backup code of this set is used: sign in another way and make a new set',
  NO_PENDING_BACKUP_CODES: 'There is no new set of backup codes to confirm',
  SIGN_IN_AGAIN: 'Sign in again to change your backup codes',
  CONCURRENT_ATTEMPT: 'Another attempt for this account finished first: try again',
  BACKUP_CODES_UNAVAILABLE: 'Backup codes are unavailable right now',
  INVALID_TWO_FACTOR_COOKIE: 'The sign-in step has expired: sign in again',
  USE_COMPONENT_BACKUP_CODES: 'Backup codes are made by the backup-code component: use /backup-codes/generate',
});

export type BackupCodeError = keyof typeof BACKUP_CODE_ERRORS;
