//! How a tenant's pages name and show the service: `[tenants.X.branding]`.
//! Checked at start; the files it names are read once by the HTTP layer.
//!
//! Colours are `#rgb` or `#rrggbb` and nothing else, so nothing can reach the
//! generated stylesheet through them; each must keep the text `step.css` puts
//! on it (white on `accent`, black on `accent_dark`) at WCAG 2.x contrast
//! 4.5:1 or more.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// The contrast WCAG 2.x level AA asks of normal text.
const MIN_CONTRAST: f64 = 4.5;

/// A tenant's branding. Without it the pages keep the shim's neutral look.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrandingConfig {
    /// The service's name, shown on every page, the printout and the download
    /// (1..=80 characters, no control characters).
    pub display_name: String,
    /// A logo file (PNG, WebP or SVG), served by the shim.
    pub logo_file: Option<PathBuf>,
    /// The logo itself, base64 (instead of `logo_file`).
    pub logo_base64: Option<String>,
    /// The buttons' and links' colour, `#rgb` or `#rrggbb` (white text on it).
    pub accent: Option<String>,
    /// The accent under a dark colour scheme (black text on it).
    pub accent_dark: Option<String>,
    /// A stylesheet added after the shim's own (UTF-8, checked at start
    /// against a CSS allowlist that loads nothing).
    pub stylesheet_file: Option<PathBuf>,
    /// Where users get help (`https:`, `http:` or `mailto:`).
    pub support_url: Option<Url>,
    /// The IdP's account-recovery page, for users who lost their codes.
    pub recovery_url: Option<Url>,
}

impl BrandingConfig {
    /// Check the values that need no file; the error starts with the field's name.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.display_name.chars().count();
        if !(1..=80).contains(&name) || self.display_name.chars().any(char::is_control) {
            return Err(
                "display_name: must be 1..=80 characters without control characters".into(),
            );
        }
        if let Some(accent) = &self.accent {
            contrast("accent", accent, [255, 255, 255], "white")?;
        }
        if let Some(dark) = &self.accent_dark {
            contrast("accent_dark", dark, [0, 0, 0], "black")?;
        }
        if self.logo_file.is_some() && self.logo_base64.is_some() {
            return Err("logo_file: cannot be set together with logo_base64 (choose one)".into());
        }
        if let Some(url) = &self.support_url {
            link("support_url", url)?;
        }
        if let Some(url) = &self.recovery_url {
            link("recovery_url", url)?;
        }
        Ok(())
    }
}

/// `#rgb` or `#rrggbb` as its three channels; anything else is `None`.
fn rgb(colour: &str) -> Option<[u8; 3]> {
    let hex = colour.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // ASCII only from here, so every byte index is a char boundary.
    let channel = |s: &str| u8::from_str_radix(s, 16).ok();
    match hex.len() {
        3 => {
            let mut out = [0u8; 3];
            for (i, c) in out.iter_mut().enumerate() {
                *c = channel(hex.get(i..=i)?)?.checked_mul(17)?;
            }
            Some(out)
        }
        6 => {
            let mut out = [0u8; 3];
            for (i, c) in out.iter_mut().enumerate() {
                *c = channel(hex.get(2 * i..2 * i + 2)?)?;
            }
            Some(out)
        }
        _ => None,
    }
}

/// WCAG 2.x relative luminance of an sRGB colour.
fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// WCAG 2.x contrast ratio of two colours (1 to 21).
fn contrast_ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Check a colour's syntax and the contrast of `text` on it.
fn contrast(field: &str, colour: &str, text: [u8; 3], text_name: &str) -> Result<(), String> {
    let Some(value) = rgb(colour) else {
        return Err(format!("{field}: {colour:?} must be #rgb or #rrggbb"));
    };
    let ratio = contrast_ratio(value, text);
    if ratio < MIN_CONTRAST {
        // Rounded down, so the message never shows 4.50 for a refused 4.497.
        let shown = (ratio * 100.0).floor() / 100.0;
        return Err(format!(
            "{field}: {text_name} text on {colour} has a contrast of {shown:.2}:1, \
             below the {MIN_CONTRAST}:1 WCAG 2.x AA asks for"
        ));
    }
    Ok(())
}

/// A link for users: `https:`, `http:` (with a host) or `mailto:`, no credentials.
fn link(field: &str, url: &Url) -> Result<(), String> {
    let ok = match url.scheme() {
        "https" | "http" => url.host_str().is_some_and(|h| !h.is_empty()),
        "mailto" => !url.path().is_empty(),
        _ => false,
    };
    if !ok {
        return Err(format!(
            "{field}: must be an https:, http: or mailto: URL (got {})",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{field}: must not carry credentials"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> BrandingConfig {
        BrandingConfig {
            display_name: "ACME Corp".into(),
            logo_file: Some("/etc/backup-codes/acme.svg".into()),
            logo_base64: None,
            accent: Some("#0b5fff".into()),
            accent_dark: Some("#8ab4ff".into()),
            stylesheet_file: Some("/etc/backup-codes/acme.css".into()),
            support_url: Some("https://help.acme.example/mfa".parse().unwrap()),
            recovery_url: Some("https://id.acme.example/recover".parse().unwrap()),
        }
    }

    fn refused(b: &BrandingConfig) -> String {
        b.validate().unwrap_err()
    }

    #[test]
    fn a_full_config_is_accepted() {
        assert_eq!(full().validate(), Ok(()));
        let short = BrandingConfig {
            accent: Some("#05a".into()),
            accent_dark: Some("#FC0".into()),
            support_url: Some("mailto:help@acme.example".parse().unwrap()),
            recovery_url: Some("http://id.acme.example/recover".parse().unwrap()),
            ..full()
        };
        assert_eq!(short.validate(), Ok(()));
        let minimal = BrandingConfig {
            display_name: "A".into(),
            ..BrandingConfig::default()
        };
        assert_eq!(minimal.validate(), Ok(()));
    }

    #[test]
    fn the_shims_own_colours_pass_their_own_check() {
        // step.css: --accent #1a56db (white text), dark #8ab4ff (black text).
        assert!(contrast_ratio(rgb("#1a56db").unwrap(), [255; 3]) >= MIN_CONTRAST);
        assert!(contrast_ratio(rgb("#8ab4ff").unwrap(), [0; 3]) >= MIN_CONTRAST);
        assert!((contrast_ratio([0; 3], [255; 3]) - 21.0).abs() < 1e-9);
        assert_eq!(rgb("#abc"), Some([0xaa, 0xbb, 0xcc]));
    }

    #[test]
    fn a_missing_or_bad_display_name_is_refused() {
        let long = "x".repeat(81);
        for name in ["", "a\u{7}b", long.as_str()] {
            let b = BrandingConfig {
                display_name: name.into(),
                ..full()
            };
            assert!(refused(&b).starts_with("display_name: "), "{name:?}");
        }
    }

    #[test]
    fn a_colour_that_is_not_hex_rgb_is_refused() {
        for bad in [
            "0b5fff",
            "#0b5ff",
            "#0b5fffff",
            "#ggg",
            "blue",
            "#0b5fff;}",
            "#0b5fff ",
            "rgb(0,0,0)",
            "",
        ] {
            let b = BrandingConfig {
                accent: Some(bad.into()),
                ..full()
            };
            let e = refused(&b);
            assert!(
                e.starts_with("accent: ") && e.contains("#rgb"),
                "{bad:?}: {e}"
            );
            let b = BrandingConfig {
                accent_dark: Some(bad.into()),
                ..full()
            };
            assert!(refused(&b).starts_with("accent_dark: "), "{bad:?}");
        }
    }

    #[test]
    fn an_accent_too_light_for_white_text_is_refused() {
        // #777777 gives white text 4.478:1 (shown rounded down); #767676 4.54:1.
        let b = BrandingConfig {
            accent: Some("#777777".into()),
            ..full()
        };
        let e = refused(&b);
        assert!(e.starts_with("accent: white text"), "{e}");
        assert!(e.contains("4.47:1"), "{e}");
        let b = BrandingConfig {
            accent: Some("#767676".into()),
            ..full()
        };
        assert_eq!(b.validate(), Ok(()));
    }

    #[test]
    fn an_accent_dark_too_dark_for_black_text_is_refused() {
        let b = BrandingConfig {
            accent_dark: Some("#1a56db".into()),
            ..full()
        };
        assert!(refused(&b).starts_with("accent_dark: black text"));
    }

    #[test]
    fn logo_file_and_logo_base64_together_are_refused() {
        let b = BrandingConfig {
            logo_base64: Some("iVBORw0KGgo=".into()),
            ..full()
        };
        assert!(refused(&b).starts_with("logo_file: "));
    }

    #[test]
    fn a_link_with_another_scheme_is_refused() {
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "ftp://acme.example/",
            "file:///etc/passwd",
        ] {
            let b = BrandingConfig {
                support_url: Some(bad.parse().unwrap()),
                ..full()
            };
            assert!(refused(&b).starts_with("support_url: "), "{bad}");
            let b = BrandingConfig {
                recovery_url: Some(bad.parse().unwrap()),
                ..full()
            };
            assert!(refused(&b).starts_with("recovery_url: "), "{bad}");
        }
    }

    #[test]
    fn a_link_with_credentials_is_refused() {
        for bad in [
            "https://user:pw@help.acme.example/",
            "https://user@help.acme.example/",
        ] {
            let b = BrandingConfig {
                support_url: Some(bad.parse().unwrap()),
                ..full()
            };
            assert_eq!(refused(&b), "support_url: must not carry credentials");
            let b = BrandingConfig {
                recovery_url: Some(bad.parse().unwrap()),
                ..full()
            };
            assert_eq!(refused(&b), "recovery_url: must not carry credentials");
        }
    }
}
