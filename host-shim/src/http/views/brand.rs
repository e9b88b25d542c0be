//! Tenants' branding as the pages use it: the display name, the links, and the
//! logo and stylesheet the shim serves itself at `/brand/{tenant}/…`, so the
//! pages' CSP (`img-src 'self'; style-src 'self'`) holds.
//!
//! Everything is read and checked once, at start ([`load_all`]): a logo must
//! be a PNG (at most 1024×1024), a WebP or an SVG, at most 128 KiB; an SVG is
//! parsed as XML and must pass an allowlist of static drawing (`svg`); a
//! stylesheet is at most 64 KiB of UTF-8, parsed as CSS and checked against an
//! allowlist that loads nothing (`css`). The SVG checks are defence in depth:
//! pages only ever show a logo through `<img>`, where no script runs, and the
//! logo is served with its own sandboxing CSP.
//!
//! Pages link the assets with a content hash (`?v=…`), so they can be cached
//! for a day and a changed file is fetched at the next start.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::config::{BrandingConfig, Config};
use crate::http::AppState;

mod css;
mod svg;

/// The largest logo, in bytes (128 KiB).
pub const MAX_LOGO_BYTES: usize = 128 * 1024;
/// The largest width and height of a PNG logo, in pixels.
pub const MAX_LOGO_SIDE: u32 = 1024;
/// The largest operator stylesheet, in bytes (64 KiB).
pub const MAX_STYLESHEET_BYTES: usize = 64 * 1024;

/// The CSP of an SVG logo opened on its own: no script, no fetch, sandboxed.
const SVG_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";
const CSS_TYPE: &str = "text/css; charset=utf-8";
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// Every branded tenant's brand, by tenant id.
pub type Brands = BTreeMap<String, Arc<Brand>>;

/// Why a tenant's branding was refused at start; each message names the field.
#[derive(Debug, thiserror::Error)]
pub enum BrandError {
    /// A value that needs no file is refused (name, colours, contrast, links).
    #[error("tenants.{0}.branding.{1}")]
    Invalid(String, String),
    /// A file the branding names cannot be read.
    #[error("tenants.{0}.branding.{1}: cannot read {path}: {3}", path = .2.display())]
    Read(String, &'static str, PathBuf, #[source] std::io::Error),
    /// `logo_base64` is not standard base64.
    #[error("tenants.{0}.branding.logo_base64: not valid base64: {1}")]
    Base64(String, #[source] base64::DecodeError),
    /// The logo (from the named field) is refused.
    #[error("tenants.{0}.branding.{1}: {2}")]
    Logo(String, &'static str, LogoRefusal),
    /// The stylesheet is refused.
    #[error("tenants.{0}.branding.stylesheet_file: {1}")]
    Stylesheet(String, StyleRefusal),
}

/// Why a logo's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoRefusal {
    /// More than [`MAX_LOGO_BYTES`].
    #[error("larger than 128 KiB")]
    TooLarge,
    /// Neither PNG, WebP nor text.
    #[error("not a PNG, WebP or SVG image")]
    UnknownType,
    /// A PNG signature without a well-formed `IHDR` header.
    #[error("a PNG without a valid IHDR header")]
    PngHeader,
    /// A PNG wider or taller than [`MAX_LOGO_SIDE`].
    #[error("the PNG is {0}x{1} pixels, at most 1024x1024 are allowed")]
    PngTooLarge(u32, u32),
    /// Text whose first element is not `<svg`.
    #[error(
        "not an SVG: its first element (after an optional BOM, XML declaration \
         and comments) must be <svg>"
    )]
    NotSvg,
    /// An SVG with an element, attribute or processing instruction outside
    /// the allowlist, or script-like content (the construct is named).
    #[error("the SVG contains {0}, which is refused")]
    SvgUnsafe(String),
    /// An SVG that is not well-formed XML without a DTD.
    #[error("the SVG is not well-formed XML without a DTD: {0}")]
    SvgXml(String),
    /// An SVG whose XML declaration names an encoding other than UTF-8.
    #[error("the SVG declares the encoding {0}, only UTF-8 is allowed")]
    SvgEncoding(String),
    /// An `href` to anything but an `#id` within the SVG.
    #[error("the SVG links to {0}, which is refused: only #id within the SVG is allowed")]
    SvgLink(String),
    /// A presentation or `style` attribute (named) refused by the CSS check.
    #[error("the SVG's {0} attribute: {1}")]
    SvgStyle(String, StyleRefusal),
}

/// Why an operator stylesheet was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StyleRefusal {
    /// More than [`MAX_STYLESHEET_BYTES`].
    #[error("larger than 64 KiB")]
    TooLarge,
    /// Not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// An `@import` rule.
    #[error("@import is refused (put the rules in this file)")]
    Import,
    /// An at-rule other than `@media` and `@import` (named without its `@`).
    #[error("@{0} is refused: the only at-rule allowed is @media")]
    AtRule(String),
    /// A `url(…)`, quoted or not (its target shown, decoded).
    #[error("url({0}) is refused: brand CSS loads nothing (an SVG logo may use url(#id))")]
    Url(String),
    /// A function outside the allowlist (`image-set`, `expression`, …).
    #[error("{0}() is refused: not one of the functions allowed")]
    Function(String),
    /// A property outside the allowlist.
    #[error("the property {0} is refused: not one of the properties allowed")]
    Property(String),
    /// A string in the value of the named property (or `@media`).
    #[error("a string in {0} is refused: strings are allowed in font-family and font only")]
    String(String),
    /// A token out of place (a block in a value, an at-keyword, …).
    #[error("`{0}` is refused there")]
    Unexpected(String),
    /// A rule or declaration the parser could not read (at its line, column).
    #[error(
        "no CSS rule or declaration can be read at line {0}, column {1} (rules hold \
         declarations only, and only @media holds rules)"
    )]
    Syntax(u32, u32),
    /// A `sourceMappingURL` or `sourceURL` comment, which developer tools
    /// would fetch.
    #[error("a sourceMappingURL or sourceURL comment is refused")]
    SourceMap,
}

/// A sniffed logo type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Png,
    Webp,
    Svg,
}

impl Kind {
    fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Svg => "image/svg+xml",
        }
    }
}

/// One served file: its bytes, type and version (the first 8 hex digits of
/// its SHA-256).
#[derive(Clone)]
struct Asset {
    body: Bytes,
    content_type: &'static str,
    csp: Option<&'static str>,
    version: String,
}

impl Asset {
    fn new(body: Vec<u8>, content_type: &'static str, csp: Option<&'static str>) -> Self {
        let mut version = hex::encode(Sha256::digest(&body));
        version.truncate(8);
        Self {
            body: Bytes::from(body),
            content_type,
            csp,
            version,
        }
    }
}

impl std::fmt::Debug for Asset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Asset")
            .field("content_type", &self.content_type)
            .field("bytes", &self.body.len())
            .field("version", &self.version)
            .finish()
    }
}

/// A tenant's branding, checked and loaded.
#[derive(Debug, Clone)]
pub struct Brand {
    /// The service's name (pages, printout, download).
    pub display_name: String,
    /// Where users get help (`https:`, `http:` or `mailto:`).
    pub support_url: Option<String>,
    /// The IdP's account-recovery page.
    pub recovery_url: Option<String>,
    logo: Option<Asset>,
    style: Option<Asset>,
}

impl Brand {
    /// Check tenant `tenant`'s branding and read the files it names.
    pub fn load(tenant: &str, config: &BrandingConfig) -> Result<Self, BrandError> {
        config
            .validate()
            .map_err(|m| BrandError::Invalid(tenant.to_owned(), m))?;
        let logo = match (&config.logo_file, &config.logo_base64) {
            (Some(path), _) => {
                let bytes = read_bounded(path, MAX_LOGO_BYTES).map_err(|e| {
                    BrandError::Read(tenant.to_owned(), "logo_file", path.clone(), e)
                })?;
                Some(
                    logo_asset(bytes)
                        .map_err(|r| BrandError::Logo(tenant.to_owned(), "logo_file", r))?,
                )
            }
            (None, Some(text)) => {
                let bytes = decode_base64(text).map_err(|e| match e {
                    Decoded::TooLarge => {
                        BrandError::Logo(tenant.to_owned(), "logo_base64", LogoRefusal::TooLarge)
                    }
                    Decoded::Bad(e) => BrandError::Base64(tenant.to_owned(), e),
                })?;
                Some(
                    logo_asset(bytes)
                        .map_err(|r| BrandError::Logo(tenant.to_owned(), "logo_base64", r))?,
                )
            }
            (None, None) => None,
        };
        let operator = match &config.stylesheet_file {
            Some(path) => {
                let bytes = read_bounded(path, MAX_STYLESHEET_BYTES).map_err(|e| {
                    BrandError::Read(tenant.to_owned(), "stylesheet_file", path.clone(), e)
                })?;
                Some(stylesheet(&bytes).map_err(|r| BrandError::Stylesheet(tenant.to_owned(), r))?)
            }
            None => None,
        };
        let colours = colour_block(config.accent.as_deref(), config.accent_dark.as_deref());
        let style = match operator {
            None if colours.is_empty() => None,
            operator => Some(Asset::new(
                format!("{colours}{}", operator.unwrap_or_default()).into_bytes(),
                CSS_TYPE,
                None,
            )),
        };
        Ok(Self {
            display_name: config.display_name.clone(),
            support_url: config.support_url.as_ref().map(|u| u.as_str().to_owned()),
            recovery_url: config.recovery_url.as_ref().map(|u| u.as_str().to_owned()),
            logo,
            style,
        })
    }

    /// The logo's path under the shim (`/brand/{tenant}/logo?v={hash8}`), if
    /// the brand has one.
    pub fn logo_path(&self, tenant: &str) -> Option<String> {
        self.logo
            .as_ref()
            .map(|a| format!("/brand/{tenant}/logo?v={}", a.version))
    }

    /// The stylesheet's path under the shim (`/brand/{tenant}/style.css?v={hash8}`),
    /// linked after `step.css`; `None` when the brand sets neither a colour nor
    /// a stylesheet.
    pub fn style_path(&self, tenant: &str) -> Option<String> {
        self.style
            .as_ref()
            .map(|a| format!("/brand/{tenant}/style.css?v={}", a.version))
    }
}

/// The brands of every tenant with a `branding` table.
pub fn load_all(config: &Config) -> Result<Brands, BrandError> {
    let mut brands = Brands::new();
    for (id, tenant) in &config.tenants {
        if let Some(branding) = &tenant.branding {
            brands.insert(id.clone(), Arc::new(Brand::load(id, branding)?));
        }
    }
    Ok(brands)
}

/// `GET /brand/{tenant}/logo` and `GET /brand/{tenant}/style.css`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/brand/{tenant}/logo", get(logo))
        .route("/brand/{tenant}/style.css", get(style))
}

async fn logo(State(state): State<AppState>, UrlPath(tenant): UrlPath<String>) -> Response {
    serve(state.brands.get(&tenant).and_then(|b| b.logo.as_ref()))
}

async fn style(State(state): State<AppState>, UrlPath(tenant): UrlPath<String>) -> Response {
    serve(state.brands.get(&tenant).and_then(|b| b.style.as_ref()))
}

/// An asset with its headers, or 404.
fn serve(asset: Option<&Asset>) -> Response {
    let Some(asset) = asset else {
        return (
            StatusCode::NOT_FOUND,
            [(header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
            "no such brand asset",
        )
            .into_response();
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CORP, "same-origin"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        asset.body.clone(),
    )
        .into_response();
    if let Some(csp) = asset.csp {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(csp),
        );
    }
    response
}

/// A file's bytes, reading at most `limit + 1` of them (enough to tell that
/// it is too large).
fn read_bounded(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    std::fs::File::open(path)?
        .take(cap)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

enum Decoded {
    TooLarge,
    Bad(base64::DecodeError),
}

/// Standard base64, ASCII whitespace (line breaks) ignored.
fn decode_base64(text: &str) -> Result<Vec<u8>, Decoded> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() / 4 * 3 > MAX_LOGO_BYTES + 3 {
        return Err(Decoded::TooLarge);
    }
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(Decoded::Bad)
}

/// A checked logo, ready to serve.
fn logo_asset(bytes: Vec<u8>) -> Result<Asset, LogoRefusal> {
    let kind = sniff(&bytes)?;
    let csp = (kind == Kind::Svg).then_some(SVG_CSP);
    Ok(Asset::new(bytes, kind.content_type(), csp))
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The logo's type from its bytes, with the checks of its type.
fn sniff(bytes: &[u8]) -> Result<Kind, LogoRefusal> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(LogoRefusal::TooLarge);
    }
    if bytes.starts_with(PNG_SIGNATURE) {
        let (width, height) = png_size(bytes).ok_or(LogoRefusal::PngHeader)?;
        if width > MAX_LOGO_SIDE || height > MAX_LOGO_SIDE {
            return Err(LogoRefusal::PngTooLarge(width, height));
        }
        return Ok(Kind::Png);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(&b"WEBP"[..]) {
        return Ok(Kind::Webp);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| LogoRefusal::UnknownType)?;
    if !svg::svg_root(text) {
        return Err(LogoRefusal::NotSvg);
    }
    svg::check(text)?;
    Ok(Kind::Svg)
}

/// Width and height from a PNG's first chunk, which must be a 13-byte `IHDR`
/// with both sides non-zero.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let be = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
    };
    if be(8..12)? != 13 || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let (width, height) = (be(16..20)?, be(20..24)?);
    (width > 0 && height > 0).then_some((width, height))
}

/// A checked operator stylesheet (a leading BOM dropped).
fn stylesheet(bytes: &[u8]) -> Result<String, StyleRefusal> {
    if bytes.len() > MAX_STYLESHEET_BYTES {
        return Err(StyleRefusal::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| StyleRefusal::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    css::check_sheet(text)?;
    Ok(text.to_owned())
}

/// The `--accent` overrides (the one colour property `step.css` sets buttons
/// and links with; the buttons' text is white, or black when dark). With only
/// `accent`, the dark scheme keeps the shim's dark accent, whose contrast with
/// black text is known. The colours were checked as `#rgb` or `#rrggbb`.
fn colour_block(accent: Option<&str>, dark: Option<&str>) -> String {
    let mut css = String::new();
    match (accent, dark) {
        (Some(light), Some(_)) => {
            css.push_str(&format!(
                ":root{{--accent:{}}}\n",
                light.to_ascii_lowercase()
            ));
        }
        (Some(light), None) => css.push_str(&format!(
            "@media not all and (prefers-color-scheme: dark){{:root{{--accent:{}}}}}\n",
            light.to_ascii_lowercase()
        )),
        (None, _) => {}
    }
    if let Some(dark) = dark {
        css.push_str(&format!(
            "@media (prefers-color-scheme: dark){{:root{{--accent:{}}}}}\n",
            dark.to_ascii_lowercase()
        ));
    }
    css
}

#[cfg(test)]
mod tests;
