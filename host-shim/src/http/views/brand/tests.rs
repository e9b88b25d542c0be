//! Unit tests of [`super`]: sniffing, the generated CSS, loading and the
//! served headers; the SVG and stylesheet allowlists in `svg` and `css`.

use base64::Engine as _;

use super::*;

mod css;
mod svg;

/// A PNG's signature and `IHDR` chunk (the CRC is not checked).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = PNG_SIGNATURE.to_vec();
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
    bytes.extend_from_slice(&[0; 4]);
    bytes
}

const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><title>Logo on white</title><rect width="10" height="10" fill="#0b5fff" stroke-linejoin="round"/></svg>"##;

/// `body` in an `<svg>` of the SVG namespace, with `xlink:` declared.
fn in_svg(body: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\">{body}</svg>"
    )
}

fn branding() -> BrandingConfig {
    BrandingConfig {
        display_name: "ACME Corp".into(),
        ..BrandingConfig::default()
    }
}

#[test]
fn a_png_up_to_1024_square_is_accepted() {
    assert_eq!(sniff(&png(1, 1)), Ok(Kind::Png));
    assert_eq!(sniff(&png(1024, 1024)), Ok(Kind::Png));
}

#[test]
fn a_png_over_1024_on_a_side_is_refused() {
    assert_eq!(
        sniff(&png(1025, 10)),
        Err(LogoRefusal::PngTooLarge(1025, 10))
    );
    assert_eq!(
        sniff(&png(10, 4096)),
        Err(LogoRefusal::PngTooLarge(10, 4096))
    );
}

#[test]
fn a_png_without_a_valid_ihdr_is_refused() {
    let full = png(16, 16);
    assert_eq!(sniff(&full[..20]), Err(LogoRefusal::PngHeader));
    assert_eq!(sniff(&png(0, 16)), Err(LogoRefusal::PngHeader));
    let mut other = full.clone();
    other[12..16].copy_from_slice(b"IDAT");
    assert_eq!(sniff(&other), Err(LogoRefusal::PngHeader));
    let mut long = full;
    long[8..12].copy_from_slice(&14u32.to_be_bytes());
    assert_eq!(sniff(&long), Err(LogoRefusal::PngHeader));
}

#[test]
fn a_webp_is_accepted_by_its_riff_header() {
    assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Ok(Kind::Webp));
    assert_eq!(sniff(b"RIFF\x24\0\0\0AVI LIST"), Err(LogoRefusal::NotSvg));
}

#[test]
fn other_binary_formats_are_refused() {
    assert_eq!(
        sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"),
        Err(LogoRefusal::UnknownType)
    );
    assert_eq!(
        sniff(b"GIF89a\x01\0\x01\0\x80\xff"),
        Err(LogoRefusal::UnknownType)
    );
}

#[test]
fn a_logo_over_128_kib_is_refused() {
    let mut big = png(1, 1);
    big.resize(MAX_LOGO_BYTES + 1, 0);
    assert_eq!(sniff(&big), Err(LogoRefusal::TooLarge));
    let mut svg = SVG.as_bytes().to_vec();
    svg.resize(MAX_LOGO_BYTES + 1, b' ');
    assert_eq!(sniff(&svg), Err(LogoRefusal::TooLarge));
}

#[test]
fn an_svg_is_accepted_after_a_bom_declaration_and_comments() {
    assert_eq!(sniff(SVG.as_bytes()), Ok(Kind::Svg));
    let dressed = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- made by hand -->\n\t<!--2-->{SVG}"
    );
    assert_eq!(sniff(dressed.as_bytes()), Ok(Kind::Svg));
    assert_eq!(sniff(b"<svg>\n</svg>"), Ok(Kind::Svg));
}

#[test]
fn text_whose_first_element_is_not_svg_is_refused() {
    for text in [
        "<html><svg></svg></html>",
        "<!DOCTYPE svg><svg></svg>",
        "<svgx></svgx>",
        "<SVG></SVG>",
        "<!-- never closed <svg></svg>",
        "<?xml version=\"1.0\" <svg></svg>",
        "hello",
        "",
    ] {
        assert_eq!(sniff(text.as_bytes()), Err(LogoRefusal::NotSvg), "{text}");
    }
}

#[test]
fn an_svg_with_script_like_content_is_refused() {
    for (svg, what) in [
        ("<svg><script>alert(1)</script></svg>", "<script>"),
        ("<svg><SCRIPT href=\"x.js\"/></svg>", "<script>"),
        (
            "<svg><foreignObject><p/></foreignObject></svg>",
            "<foreignObject>",
        ),
        ("<svg><FOREIGNOBJECT/></svg>", "<foreignObject>"),
        (
            "<?xml version=\"1.0\"?><svg><!ENTITY x \"y\"></svg>",
            "<!ENTITY>",
        ),
        (
            "<svg><a href=\"JavaScript:alert(1)\"><rect/></a></svg>",
            "javascript:",
        ),
        ("<svg onload=\"alert(1)\"></svg>", "on…="),
        ("<svg><rect\n  ONclick = \"x\"/></svg>", "on…="),
        ("<svg><rect/onmouseover='x'/></svg>", "on…="),
        (
            "<svg><set attributeName=\"x\" on.begin=\"x\"/></svg>",
            "on…=",
        ),
    ] {
        match sniff(svg.as_bytes()) {
            Err(LogoRefusal::SvgUnsafe(m)) => assert!(m.contains(what), "{svg}: {m}"),
            other => panic!("{svg}: {other:?}"),
        }
    }
}

#[test]
fn words_starting_with_on_are_not_event_attributes() {
    let svg =
        "<svg><title>Drawn on white, one colour</title><text font-family=\"x\">only</text></svg>";
    assert_eq!(sniff(svg.as_bytes()), Ok(Kind::Svg));
}

#[test]
fn the_generated_css_overrides_the_accent_per_scheme() {
    assert_eq!(
        colour_block(Some("#0B5FFF"), Some("#8ab4ff")),
        ":root{--accent:#0b5fff}\n@media (prefers-color-scheme: dark){:root{--accent:#8ab4ff}}\n"
    );
    // Alone, the light accent leaves the dark scheme (black text) alone.
    assert_eq!(
        colour_block(Some("#05a"), None),
        "@media not all and (prefers-color-scheme: dark){:root{--accent:#05a}}\n"
    );
    assert_eq!(
        colour_block(None, Some("#fc0")),
        "@media (prefers-color-scheme: dark){:root{--accent:#fc0}}\n"
    );
    assert_eq!(colour_block(None, None), "");
}

#[test]
fn a_brand_links_its_assets_by_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let css = dir.path().join("acme.css");
    std::fs::write(&css, "header { border-bottom: 4px solid var(--accent); }\n").unwrap();
    let config = BrandingConfig {
        logo_base64: Some(base64::engine::general_purpose::STANDARD.encode(png(64, 32))),
        accent: Some("#0b5fff".into()),
        accent_dark: Some("#8ab4ff".into()),
        stylesheet_file: Some(css),
        support_url: Some("mailto:help@acme.example".parse().unwrap()),
        ..branding()
    };
    let brand = Brand::load("acme", &config).unwrap();
    assert_eq!(brand.display_name, "ACME Corp");
    assert_eq!(
        brand.support_url.as_deref(),
        Some("mailto:help@acme.example")
    );
    assert_eq!(brand.recovery_url, None);
    let logo = brand.logo_path("acme").unwrap();
    let version = logo.strip_prefix("/brand/acme/logo?v=").unwrap();
    assert_eq!(version.len(), 8);
    assert!(version.bytes().all(|b| b.is_ascii_hexdigit()));
    let style = brand.style_path("acme").unwrap();
    assert!(style.starts_with("/brand/acme/style.css?v="), "{style}");
    let body = brand.style.as_ref().unwrap().body.clone();
    let body = std::str::from_utf8(&body).unwrap();
    assert!(
        body.starts_with(":root{--accent:#0b5fff}\n@media"),
        "{body}"
    );
    assert!(body.ends_with("header { border-bottom: 4px solid var(--accent); }\n"));
}

#[test]
fn a_brand_without_colours_or_stylesheet_has_no_style() {
    let brand = Brand::load("acme", &branding()).unwrap();
    assert_eq!(brand.style_path("acme"), None);
    assert_eq!(brand.logo_path("acme"), None);
}

#[test]
fn load_errors_name_the_tenant_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("evil.svg");
    std::fs::write(&evil, "<svg><script>alert(1)</script></svg>").unwrap();
    let css = dir.path().join("x.css");
    std::fs::write(&css, "@import url(x.css);").unwrap();
    for (config, start) in [
        (
            BrandingConfig {
                accent: Some("red".into()),
                ..branding()
            },
            "tenants.acme.branding.accent: ",
        ),
        (
            BrandingConfig {
                logo_file: Some(dir.path().join("missing.png")),
                ..branding()
            },
            "tenants.acme.branding.logo_file: cannot read ",
        ),
        (
            BrandingConfig {
                logo_file: Some(evil),
                ..branding()
            },
            "tenants.acme.branding.logo_file: the SVG contains a <script> element",
        ),
        (
            BrandingConfig {
                logo_base64: Some("not base64!".into()),
                ..branding()
            },
            "tenants.acme.branding.logo_base64: not valid base64",
        ),
        (
            BrandingConfig {
                logo_base64: Some("A".repeat(MAX_LOGO_BYTES * 2)),
                ..branding()
            },
            "tenants.acme.branding.logo_base64: larger than 128 KiB",
        ),
        (
            BrandingConfig {
                stylesheet_file: Some(css),
                ..branding()
            },
            "tenants.acme.branding.stylesheet_file: @import",
        ),
    ] {
        let e = Brand::load("acme", &config).unwrap_err().to_string();
        assert!(e.starts_with(start), "{e}");
    }
}

#[test]
fn assets_are_served_with_their_headers() {
    let svg = logo_asset(SVG.as_bytes().to_vec()).unwrap();
    let r = serve(Some(&svg));
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert_eq!(h[header::CONTENT_TYPE], "image/svg+xml");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h["cross-origin-resource-policy"], "same-origin");
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=86400");
    assert_eq!(h[header::CONTENT_SECURITY_POLICY], SVG_CSP);
    let png = logo_asset(png(2, 2)).unwrap();
    let r = serve(Some(&png));
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
    assert!(r.headers().get(header::CONTENT_SECURITY_POLICY).is_none());
    assert_eq!(serve(None).status(), StatusCode::NOT_FOUND);
}

/// Each attack stops the load, naming its field.
#[test]
fn load_errors_name_the_field_of_each_attack() {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.svg");
    std::fs::write(
        &logo,
        in_svg("<image href=\"https://evil.example/x.png\"/>"),
    )
    .unwrap();
    let css = dir.path().join("x.css");
    std::fs::write(
        &css,
        "a { background: image-set('https://evil.example/x.png' 1x) }",
    )
    .unwrap();
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(in_svg(r#"<a href="&#106;avascript:alert(1)"><rect/></a>"#));
    for (config, expected) in [
        (
            BrandingConfig {
                logo_file: Some(logo),
                ..branding()
            },
            "tenants.acme.branding.logo_file: the SVG contains an <image> element, which is refused",
        ),
        (
            BrandingConfig {
                logo_base64: Some(encoded),
                ..branding()
            },
            "tenants.acme.branding.logo_base64: the SVG contains a javascript: URL, which is refused",
        ),
        (
            BrandingConfig {
                stylesheet_file: Some(css),
                ..branding()
            },
            "tenants.acme.branding.stylesheet_file: image-set() is refused: not one of the functions allowed",
        ),
    ] {
        let e = Brand::load("acme", &config).unwrap_err().to_string();
        assert_eq!(e, expected);
    }
}
