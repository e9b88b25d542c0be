/**
 * Backup codes for Better Auth from the backup-code component, in process:
 *
 * ```ts
 * import { betterAuth } from 'better-auth';
 * import { twoFactor } from 'better-auth/plugins/two-factor';
 * import { backupCodes, twoFactorBackupCodeOptions } from 'authn-backup-codes/better-auth';
 *
 * export const auth = betterAuth({
 *   // ...
 *   plugins: [
 *     twoFactor({ backupCodeOptions: twoFactorBackupCodeOptions }),   // Better Auth keeps no code
 *     backupCodes({ onEvent: ({ userId, event }) => notify(userId, event) }),
 *   ],
 * });
 * ```
 *
 * The component keeps argon2id digests only; a code is shown once and works
 * once. At the two-factor step the plugin answers Better Auth's own
 * `/two-factor/verify-backup-code` (so `authClient.twoFactor.verifyBackupCode`
 * keeps working) and refuses `/two-factor/generate-backup-codes`. Its own
 * endpoints, under `/backup-codes/`: `generate` (a fresh sign-in), `activate`
 * (one code typed back), `status`, `delete` (a fresh sign-in).
 */
import type { BetterAuthPlugin, GenericEndpointContext } from 'better-auth';
import { APIError, createAuthEndpoint, createAuthMiddleware, sessionMiddleware } from 'better-auth/api';
import { Host } from '../index.js';
import { BACKUP_CODE_ERRORS } from './answers.js';
import { schema } from './credentials.js';
import { BackupCodeService, type BackupCodesOptions } from './service.js';
import { completeSignIn, pendingSignIn } from './step.js';

export { BACKUP_CODE_ERRORS } from './answers.js';
export { migrateAll, readBetterAuthCodes, type MigrationReport } from './migration.js';
export type { Accepted, BackupCodeEvent, BackupCodesOptions, BackupCodeStatus } from './service.js';

/**
 * The two-factor plugin's `backupCodeOptions` that keep no code in Better
 * Auth's database: it makes none (`[]`, stored as the plain text `[]`).
 */
export const twoFactorBackupCodeOptions = {
  customBackupCodesGenerate: (): string[] => [],
  storeBackupCodes: 'plain' as const,
};

/** Longest input taken as a code: longer is refused before the component is called. */
const MAX_CODE_LENGTH = 128;

/** The `code` (and `setId`, `trustDevice`) of a request body, checked: hooks see the raw body. */
function codeOf(body: unknown): string {
  const code = (body as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || code.length === 0 || code.length > MAX_CODE_LENGTH) {
    throw APIError.from('BAD_REQUEST', BACKUP_CODE_ERRORS.BACKUP_CODE_TYPO);
  }
  return code;
}

function setIdOf(body: unknown): string | null {
  const setId = (body as { setId?: unknown } | undefined)?.setId;
  if (setId === undefined || setId === null) return null;
  if (typeof setId !== 'string' || setId.length > 128) throw APIError.from('BAD_REQUEST', BACKUP_CODE_ERRORS.NO_PENDING_BACKUP_CODES);
  return setId;
}

/** The signed-in user, from a session at most `seconds` old. */
function freshUser(ctx: GenericEndpointContext, seconds: number): string {
  const session = ctx.context.session;
  if (!session) throw APIError.from('UNAUTHORIZED', BACKUP_CODE_ERRORS.SIGN_IN_AGAIN);
  const age = (Date.now() - new Date(session.session.createdAt).getTime()) / 1000;
  if (!(age <= seconds)) throw APIError.from('FORBIDDEN', BACKUP_CODE_ERRORS.SIGN_IN_AGAIN);
  return session.user.id;
}

function signedInUser(ctx: GenericEndpointContext): string {
  const session = ctx.context.session;
  if (!session) throw APIError.from('UNAUTHORIZED', BACKUP_CODE_ERRORS.SIGN_IN_AGAIN);
  return session.user.id;
}

/** The plugin. */
export function backupCodes(options: BackupCodesOptions = {}) {
  const host = options.host ? Promise.resolve(options.host) : Host.load();
  const service = new BackupCodeService(host, options);
  return {
    id: 'authn-backup-codes',
    schema,
    $ERROR_CODES: BACKUP_CODE_ERRORS,
    init(context) {
      const twoFactor = context.getPlugin('two-factor') as
        | { options?: { backupCodeOptions?: { customBackupCodesGenerate?: () => string[]; storeBackupCodes?: unknown } } }
        | null;
      const made = twoFactor?.options?.backupCodeOptions?.customBackupCodesGenerate?.();
      if (!twoFactor || !Array.isArray(made) || made.length !== 0 || twoFactor.options?.backupCodeOptions?.storeBackupCodes !== 'plain') {
        // Fail closed at start: Better Auth would otherwise keep reversible codes beside the component's.
        throw new Error(
          'authn-backup-codes: add twoFactor({ backupCodeOptions: twoFactorBackupCodeOptions }) before backupCodes() '
          + '(Better Auth must not make backup codes of its own)',
        );
      }
    },
    endpoints: {
      generateComponentBackupCodes: createAuthEndpoint(
        '/backup-codes/generate',
        { method: 'POST', use: [sessionMiddleware] },
        async (ctx) => {
          const userId = freshUser(ctx, service.freshSignInSeconds);
          const issued = await service.issue(ctx.context, userId);
          return ctx.json({
            codes: issued.codes.map((c) => c.code),
            setId: issued.setId,
            fingerprint: issued.fingerprint,
          });
        },
      ),
      activateComponentBackupCodes: createAuthEndpoint(
        '/backup-codes/activate',
        { method: 'POST', use: [sessionMiddleware] },
        async (ctx) => {
          const userId = freshUser(ctx, service.freshSignInSeconds);
          const v = await service.activate(ctx.context, userId, setIdOf(ctx.body), codeOf(ctx.body));
          return ctx.json({ activated: true, remaining: v.remaining });
        },
      ),
      componentBackupCodeStatus: createAuthEndpoint(
        '/backup-codes/status',
        { method: 'GET', use: [sessionMiddleware] },
        async (ctx) => ctx.json(await service.status(ctx.context, signedInUser(ctx))),
      ),
      deleteComponentBackupCodes: createAuthEndpoint(
        '/backup-codes/delete',
        { method: 'POST', use: [sessionMiddleware] },
        async (ctx) => {
          await service.remove(ctx.context, freshUser(ctx, service.freshSignInSeconds));
          return ctx.json({ deleted: true });
        },
      ),
    },
    hooks: {
      before: [
        {
          // Better Auth's backup-code step, answered by the component.
          matcher: (ctx) => ctx.path === '/two-factor/verify-backup-code',
          handler: createAuthMiddleware(async (ctx) => {
            const pending = await pendingSignIn(ctx);
            const code = codeOf(ctx.body);
            const trustDevice = (ctx.body as { trustDevice?: unknown } | undefined)?.trustDevice === true;
            await service.verify(ctx.context, pending.user.id, code);
            return ctx.json(await completeSignIn(ctx, pending, trustDevice));
          }),
        },
        {
          // Better Auth's own codes are reversible: refused.
          matcher: (ctx) => ctx.path === '/two-factor/generate-backup-codes',
          handler: createAuthMiddleware(async () => {
            throw APIError.from('FORBIDDEN', BACKUP_CODE_ERRORS.USE_COMPONENT_BACKUP_CODES);
          }),
        },
      ],
    },
    rateLimit: [
      { pathMatcher: (path: string) => path.startsWith('/backup-codes/'), window: 60, max: 10 },
    ],
  } satisfies BetterAuthPlugin;
}
