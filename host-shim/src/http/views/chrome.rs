//! What every page around its content shows: the language, the service's name
//! and logo (the tenant's branding, else the neutral look), the account the
//! page is about, and the links to help and account recovery.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::http::AppState;
use crate::http::views::base::Base;
use crate::http::views::i18n::{Preferences, Tr, negotiate};

/// The frame of one page, for one reader.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The reader's language and zone.
    pub t: Tr,
    /// Where the shim's assets and forms are (the request's base path).
    pub base: String,
    /// The service's name: the brand's display name, else the neutral one.
    pub service: String,
    /// Whether the tenant has branding (the header then names the service).
    pub branded: bool,
    /// The logo's path, when the brand has one.
    pub logo: Option<String>,
    /// The brand's stylesheet's path, when it has one.
    pub style: Option<String>,
    /// The account the page is about, as shown to the user.
    pub account: Option<String>,
    /// Where users get help.
    pub support: Option<String>,
    /// The IdP's account-recovery page.
    pub recovery: Option<String>,
}

impl Chrome {
    /// The frame of `tenant`'s pages (`None`: a page of no tenant) for a reader.
    pub fn new(
        state: &AppState,
        base: &Base,
        tenant: Option<&str>,
        t: Tr,
        account: Option<String>,
    ) -> Self {
        let brand = tenant.and_then(|id| state.brands.get(id).map(|b| (id, b)));
        let at = |path: Option<String>| path.map(|p| base.path(&p));
        Self {
            service: brand
                .map_or_else(|| t.msg("service-default"), |(_, b)| b.display_name.clone()),
            branded: brand.is_some(),
            logo: at(brand.and_then(|(id, b)| b.logo_path(id))),
            style: at(brand.and_then(|(id, b)| b.style_path(id))),
            support: brand.and_then(|(_, b)| b.support_url.clone()),
            recovery: brand.and_then(|(_, b)| b.recovery_url.clone()),
            t,
            base: base.path(""),
            account,
        }
    }

    /// The frame for a reader the request alone describes (`Accept-Language`).
    pub fn negotiated(
        state: &AppState,
        base: &Base,
        tenant: Option<&str>,
        headers: &axum::http::HeaderMap,
    ) -> Self {
        let config = tenant.and_then(|id| state.config.tenants.get(id));
        let lang = negotiate(&Preferences::from_headers(headers), config);
        Self::new(state, base, tenant, Tr::new(lang, None), None)
    }

    /// "Account: …", when the page is about one.
    pub fn account_line(&self) -> Option<String> {
        let account = self.account.as_ref()?;
        Some(self.t.with(
            "chrome-account",
            &[(
                "account",
                crate::http::views::i18n::Arg::Str(account.clone()),
            )],
        ))
    }

    /// A message without arguments, in the reader's language.
    pub fn msg(&self, id: &str) -> String {
        self.t.msg(id)
    }

    /// The page's `<title>`: its own title and the service.
    pub fn title(&self, page: &str) -> String {
        format!("{page} · {}", self.service)
    }
}

/// The tenant a request's path names (`/{area}/{tenant}/…`), if configured.
pub fn tenant_of<'a>(state: &'a AppState, path: &str) -> Option<&'a str> {
    let mut segments = path.trim_start_matches('/').split('/');
    match segments.next()? {
        "step" | "self" | "op" | "brand" => {}
        "demo" => {
            return state.demo_tenant();
        }
        _ => return None,
    }
    let id = segments.next()?;
    state
        .config
        .tenants
        .get_key_value(id)
        .map(|(k, _)| k.as_str())
}

/// A page's frame as an extractor: the path's tenant, the browser's languages.
impl FromRequestParts<AppState> for Chrome {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let Ok(base) = Base::from_request_parts(parts, state).await;
        let tenant = tenant_of(state, parts.uri.path());
        Ok(Self::negotiated(state, &base, tenant, &parts.headers))
    }
}
