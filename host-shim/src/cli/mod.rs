//! The command line's command families beyond serving and single calls
//! (`main.rs` parses and dispatches): the webhook outbox ([`webhooks`]) and
//! imports from other identity servers ([`import`]).

pub mod import;
pub mod webhooks;
