//! What wraps every door: request ids, spans, metrics and the refusal log
//! ([`observe`]), per-address limits and the body reader ([`limits`]), and the
//! security headers ([`headers`]).

pub mod headers;
pub mod limits;
pub mod observe;
