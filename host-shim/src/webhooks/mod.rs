//! Signed webhooks (issue 16, being built): events told to the identity
//! provider's receivers the way the Standard Webhooks specification says, so
//! receivers verify them with that specification's libraries. So far the
//! signature ([`sign`]), the body ([`payload`]) and the retry schedule
//! ([`backoff`]); the outbox and its delivery worker follow.

pub mod backoff;
pub mod payload;
pub mod sign;
