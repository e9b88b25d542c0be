//! Signed webhooks: every event of a credential change told to the identity
//! provider's receivers the way the Standard Webhooks specification says, so
//! receivers verify them with that specification's libraries. The service
//! writes the events to an outbox in the change's own transaction; the
//! `worker` delivers them. Here: the signature ([`sign`]), the body
//! (`payload`), the retry schedule (`backoff`), the worker, and what
//! operators do from the command line ([`admin`]).

pub mod admin;
pub(crate) mod backoff;
pub(crate) mod payload;
pub mod sign;
pub(crate) mod worker;

pub use worker::{Worker, WorkerError};
