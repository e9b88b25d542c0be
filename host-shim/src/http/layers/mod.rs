//! What wraps every door: request ids, spans, metrics and the refusal log
//! ([`observe`]), per-address limits and the body reader ([`limits`]), the
//! security headers ([`headers`]) and the pages of refusals ([`refusal_pages`]).

pub mod headers;
pub mod limits;
pub mod observe;
pub mod refusal_pages;
