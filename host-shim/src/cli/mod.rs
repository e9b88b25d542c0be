//! The command line's command families beyond serving and single calls
//! (`main.rs` parses and dispatches): the webhook outbox ([`webhooks`]),
//! imports from other identity servers ([`import`]) and a new tenant's
//! configuration ([`tenant_init`]).

pub mod import;
pub mod tenant_init;
pub mod webhooks;
