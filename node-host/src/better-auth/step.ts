/**
 * Better Auth's two-factor step, as its own plugin runs it, through Better
 * Auth's public API only (the two-factor plugin exports none of its helpers):
 * the user waiting at the step is named by the signed `two_factor` cookie
 * (a verification row holding their id, valid for minutes); a right code
 * consumes that row (one session per challenge, however many requests race),
 * creates the session and sets its cookie, as `/two-factor/verify-*` do.
 */
import { createHmac } from 'node:crypto';
import { APIError } from 'better-auth/api';
import { expireCookie, setSessionCookie } from 'better-auth/cookies';
import { generateRandomString } from 'better-auth/crypto';
import { parseUserOutput } from 'better-auth/db';
import type { GenericEndpointContext, User } from 'better-auth';
import { BACKUP_CODE_ERRORS } from './answers.js';

/** A user at the two-factor step. */
export interface PendingSignIn {
  /** The verification row's identifier (the challenge). */
  challenge: string;
  user: User;
}

/** The user waiting at the two-factor step of this request, or a 401. */
export async function pendingSignIn(ctx: GenericEndpointContext): Promise<PendingSignIn> {
  const cookie = ctx.context.createAuthCookie('two_factor');
  const challenge = await ctx.getSignedCookie(cookie.name, ctx.context.secret);
  if (challenge) {
    const row = await ctx.context.internalAdapter.findVerificationValue(challenge);
    if (row && new Date(row.expiresAt).getTime() > Date.now()) {
      const user = await ctx.context.internalAdapter.findUserById(row.value);
      if (user) return { challenge, user };
    }
  }
  throw APIError.from('UNAUTHORIZED', BACKUP_CODE_ERRORS.INVALID_TWO_FACTOR_COOKIE);
}

/**
 * End the step for a user whose code was right: consume the challenge (a
 * second request with the same challenge gets a 401), create the session,
 * set its cookie, clear the step's, and remember the device when asked.
 */
export async function completeSignIn(ctx: GenericEndpointContext, pending: PendingSignIn, trustDevice: boolean) {
  const cookie = ctx.context.createAuthCookie('two_factor');
  const consumed = await ctx.context.internalAdapter.consumeVerificationValue(pending.challenge);
  if (!consumed || consumed.value !== pending.user.id) {
    expireCookie(ctx, cookie);
    throw APIError.from('UNAUTHORIZED', BACKUP_CODE_ERRORS.INVALID_TWO_FACTOR_COOKIE);
  }
  const dontRemember = await ctx.getSignedCookie(ctx.context.authCookies.dontRememberToken.name, ctx.context.secret);
  const session = await ctx.context.internalAdapter.createSession(pending.user.id, !!dontRemember);
  await setSessionCookie(ctx, { session, user: pending.user });
  expireCookie(ctx, cookie);
  if (trustDevice) await trustThisDevice(ctx, pending.user.id);
  return { token: session.token, user: parseUserOutput(ctx.context.options, pending.user) };
}

/** The two-factor plugin's trusted-device cookie, in the form its sign-in hook accepts. */
async function trustThisDevice(ctx: GenericEndpointContext, userId: string): Promise<void> {
  const twoFactor = ctx.context.getPlugin('two-factor') as { options?: { trustDeviceMaxAge?: number } } | null;
  const maxAge = twoFactor?.options?.trustDeviceMaxAge ?? 30 * 24 * 60 * 60;
  const cookie = ctx.context.createAuthCookie('trust_device', { maxAge });
  const identifier = `trust-device-${generateRandomString(32)}`;
  const token = createHmac('sha256', ctx.context.secret).update(`${userId}!${identifier}`).digest('base64url');
  await ctx.context.internalAdapter.createVerificationValue({
    value: userId,
    identifier,
    expiresAt: new Date(Date.now() + maxAge * 1000),
  });
  await ctx.setSignedCookie(cookie.name, `${token}!${identifier}`, ctx.context.secret, cookie.attributes);
  expireCookie(ctx, ctx.context.authCookies.dontRememberToken);
}
