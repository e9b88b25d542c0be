//! What the pages are made of: rendering and the refusal-pages layer
//! ([`pages`]), the pages' error type ([`refusal`]), the frame every page has
//! ([`chrome`]), links under any prefix ([`base`]), languages ([`i18n`]),
//! tenants' logos and stylesheets ([`brand`]) and codes sealed in form
//! tokens ([`sealed`]).

pub mod base;
pub mod brand;
pub mod chrome;
pub mod i18n;
pub mod pages;
pub mod refusal;
pub mod sealed;
