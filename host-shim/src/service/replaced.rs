//! Codes of a replaced set: the credential whose active set a write
//! replaces is kept (see the store's `replaced_credentials`) and passed to
//! the component's `verify`, so a wrong code at login can be recognised as
//! one of that set, from the same evaluation, and the user told why it no
//! longer works. Such a code is refused like any wrong code.

use crate::plugin::Event;

/// How long a replaced set is remembered to recognise its codes, seconds.
pub const REPLACED_SET_MEMORY: i64 = 30 * 24 * 3600;

/// Does a write with these `events` replace the active set of `previous`?
pub(super) fn replaces(events: &[Event], previous: Option<&[u8]>) -> Option<Vec<u8>> {
    let replacing = events.iter().any(|e| match e {
        Event::Activated(_) => true,
        Event::Issued(i) => !i.pending,
        _ => false,
    });
    previous.filter(|_| replacing).map(<[u8]>::to_vec)
}
