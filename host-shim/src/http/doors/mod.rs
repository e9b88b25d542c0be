//! The doors: what identity providers and users call. Each parses its input,
//! calls the service once and renders the answer in its own form (JSON, a
//! page, a REST answer, an OpenID answer); the rules live in the service and
//! the component.
//!
//! Two parts are no door but what doors share: [`form`], the one extractor of
//! posted page forms (each door says what it accepts), and [`answer`], the
//! one reading of service errors each door renders. They import no door.

pub mod answer;
pub mod api;
pub mod form;
pub mod oidc_provider;
pub mod rest2f;
pub mod selfservice;
pub mod step;
