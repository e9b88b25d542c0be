//! What the pages are made of: rendering and the refusal-pages layer
//! ([`pages`]), the pages' error type ([`refusal`]), the frame every page has
//! ([`chrome`]), links under any prefix ([`base`]), languages ([`i18n`]),
//! tenants' logos and stylesheets ([`brand`]), codes sealed in form
//! tokens ([`sealed`]), and what the login step and self-service share: the
//! pages about a set of codes ([`codes`]), cookies ([`cookies`]) and the
//! sentences about codes and attempts ([`text`]).

pub mod base;
pub mod brand;
pub mod chrome;
pub mod codes;
pub mod cookies;
pub mod handoff;
pub mod i18n;
pub mod pages;
pub mod refusal;
pub mod sealed;
pub mod text;
