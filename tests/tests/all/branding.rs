//! Per-tenant branding (issue 15): a branded tenant's logo and stylesheet are
//! served by the shim itself, over real HTTP, with the headers that keep them
//! same-origin, unsniffed and cacheable; other tenants get 404; and a refused
//! branding (a bad colour, an SVG with a script, each logo and stylesheet of
//! issue 24's attack run) stops the start, naming its field.

use std::collections::BTreeMap;
use std::path::Path;

use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp};
use backup_codes_harness::shim::{InProcess, cheap_policy, test_config};
use backup_codes_shim::config::{BrandingConfig, Config, TenantConfig};
use backup_codes_shim::server;
use backup_codes_shim::test_support::Brand;
use base64::Engine as _;
use reqwest::StatusCode;

const LOGO: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#0b5fff"/></svg>
"##;
const CSS: &str = "header { border-bottom: 4px solid var(--accent); }\n";

fn branding(dir: &Path) -> BrandingConfig {
    let logo = dir.join("logo.svg");
    std::fs::write(&logo, LOGO).unwrap();
    let css = dir.join("acme.css");
    std::fs::write(&css, CSS).unwrap();
    BrandingConfig {
        display_name: "ACME Corp".into(),
        logo_file: Some(logo),
        accent: Some("#0b5fff".into()),
        accent_dark: Some("#8ab4ff".into()),
        stylesheet_file: Some(css),
        support_url: Some("https://help.acme.example/mfa".parse().unwrap()),
        ..BrandingConfig::default()
    }
}

/// Tenants `acme` (with `branding`) and `plain` (without).
fn config(idp: &TestIdp, db: &TestDb, branding: Option<BrandingConfig>) -> Config {
    let tenant = |branding| TenantConfig {
        policy: cheap_policy(),
        branding,
        ..idp.tenant(Alg::Hs256)
    };
    test_config(
        &db.url,
        BTreeMap::from([
            ("acme".to_owned(), tenant(branding)),
            ("plain".to_owned(), tenant(None)),
        ]),
    )
}

fn http() -> reqwest::Client {
    backup_codes_shim::http_client().build().unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

fn assert_asset_headers(r: &reqwest::Response, content_type: &str) {
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(r, "content-type"), content_type);
    assert_eq!(header(r, "x-content-type-options"), "nosniff");
    assert_eq!(header(r, "cross-origin-resource-policy"), "same-origin");
    assert_eq!(header(r, "cache-control"), "public, max-age=86400");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_branded_tenants_logo_and_stylesheet_are_served_by_the_shim() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shim = InProcess::start(&config(&idp, &db, Some(branding(dir.path()))))
        .await
        .unwrap();
    let brand = backup_codes_shim::test_support::brand(&shim.state, "acme").unwrap();
    assert_eq!(brand.display_name, "ACME Corp");
    assert_eq!(
        brand.support_url.as_deref(),
        Some("https://help.acme.example/mfa")
    );
    let http = http();

    let logo = brand.logo_path("acme").unwrap();
    assert!(logo.starts_with("/brand/acme/logo?v="), "{logo}");
    let r = http
        .get(format!("{}{logo}", shim.url))
        .send()
        .await
        .unwrap();
    assert_asset_headers(&r, "image/svg+xml");
    assert_eq!(
        header(&r, "content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    );
    assert_eq!(r.text().await.unwrap(), LOGO);

    let style = brand.style_path("acme").unwrap();
    assert!(style.starts_with("/brand/acme/style.css?v="), "{style}");
    let r = http
        .get(format!("{}{style}", shim.url))
        .send()
        .await
        .unwrap();
    assert_asset_headers(&r, "text/css; charset=utf-8");
    assert!(r.headers().get("content-security-policy").is_none());
    let body = r.text().await.unwrap();
    assert!(
        body.starts_with(
            ":root{--accent:#0b5fff}\n@media (prefers-color-scheme: dark){:root{--accent:#8ab4ff}}\n"
        ),
        "{body}"
    );
    assert!(body.ends_with(CSS), "{body}");

    // Without the version, too (an old link after a change).
    let r = http
        .get(format!("{}/brand/acme/logo", shim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    for path in [
        "/brand/nobody/logo",
        "/brand/nobody/style.css",
        "/brand/plain/logo",
        "/brand/plain/style.css",
    ] {
        let r = http
            .get(format!("{}{path}", shim.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    }
    assert!(backup_codes_shim::test_support::brand(&shim.state, "plain").is_none());
    shim.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_branding_stops_the_start_naming_its_field() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    let bad_colour = BrandingConfig {
        accent: Some("#0b5fff;}".into()),
        ..branding(dir.path())
    };
    let e = server::build(&config(&idp, &db, Some(bad_colour)))
        .await
        .err()
        .expect("a bad colour must stop the start")
        .to_string();
    assert!(e.starts_with("tenants.acme.branding.accent: "), "{e}");

    let low_contrast = BrandingConfig {
        accent: Some("#8ab4ff".into()),
        ..branding(dir.path())
    };
    let e = server::build(&config(&idp, &db, Some(low_contrast)))
        .await
        .err()
        .expect("a light accent must stop the start")
        .to_string();
    assert!(
        e.starts_with("tenants.acme.branding.accent: white text"),
        "{e}"
    );

    let evil = dir.path().join("evil.svg");
    std::fs::write(
        &evil,
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
    )
    .unwrap();
    let scripted = BrandingConfig {
        logo_file: Some(evil),
        ..branding(dir.path())
    };
    let e = server::build(&config(&idp, &db, Some(scripted)))
        .await
        .err()
        .expect("an SVG with a script must stop the start")
        .to_string();
    assert!(
        e.starts_with("tenants.acme.branding.logo_file: the SVG contains a <script> element"),
        "{e}"
    );
}

/// `body` in an `<svg>` of the SVG namespace, with `xlink:` declared.
fn in_svg(body: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\">{body}</svg>"
    )
}

/// Each logo and stylesheet of the attack run (issue 24) passed the old
/// string filters; each now stops the start, naming its field and construct.
#[tokio::test(flavor = "multi_thread")]
async fn each_logo_and_stylesheet_of_the_attack_run_stops_the_start() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let logos = [
        (
            in_svg(r#"<a href="&#106;avascript:alert(1)"><rect width="8" height="8"/></a>"#),
            "the SVG contains a javascript: URL, which is refused",
        ),
        (
            in_svg(r#"<a xlink:href="&#x6A;avascript:alert(1)"><rect/></a>"#),
            "the SVG contains a javascript: URL, which is refused",
        ),
        (
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:h=\"http://www.w3.org/1999/xhtml\">\
             <h:script>alert(1)</h:script></svg>"
                .to_owned(),
            "the SVG contains a <script> element in the namespace http://www.w3.org/1999/xhtml",
        ),
        (
            in_svg(r#"<image href="https://evil.example/track.png" width="1" height="1"/>"#),
            "the SVG contains an <image> element, which is refused",
        ),
        (
            in_svg(r#"<use href="data:image/svg+xml;base64,PHN2Zy8+#a"/>"#),
            "the SVG links to data:image/svg+xml;base64,PHN2Zy8+#a, which is refused",
        ),
        (
            in_svg("<style>@import url(https://evil.example/x.css);</style>"),
            "the SVG contains a <style> element, which is refused",
        ),
    ];
    let sheets = [
        (
            "header { background: image-set('https://evil.example/x.png' 1x) }",
            "image-set() is refused",
        ),
        (
            "@font-face { font-family: Evil; src: \"https://evil.example/f.woff2\" }",
            "@font-face is refused",
        ),
        (
            "header { background: url(img/band.png) }",
            "url(img/band.png) is refused",
        ),
        ("@import \"x.css\";", "@import is refused"),
    ];
    let mut cases = Vec::new();
    for (i, (svg, what)) in logos.into_iter().enumerate() {
        let path = dir.path().join(format!("evil-{i}.svg"));
        std::fs::write(&path, &svg).unwrap();
        cases.push((
            BrandingConfig {
                logo_file: Some(path),
                ..branding(dir.path())
            },
            format!("tenants.acme.branding.logo_file: {what}"),
        ));
        // The same logo given inline.
        cases.push((
            BrandingConfig {
                logo_file: None,
                logo_base64: Some(base64::engine::general_purpose::STANDARD.encode(&svg)),
                ..branding(dir.path())
            },
            format!("tenants.acme.branding.logo_base64: {what}"),
        ));
    }
    for (i, (css, what)) in sheets.into_iter().enumerate() {
        let path = dir.path().join(format!("evil-{i}.css"));
        std::fs::write(&path, css).unwrap();
        cases.push((
            BrandingConfig {
                stylesheet_file: Some(path),
                ..branding(dir.path())
            },
            format!("tenants.acme.branding.stylesheet_file: {what}"),
        ));
    }
    for (refused, start) in cases {
        let e = server::build(&config(&idp, &db, Some(refused)))
            .await
            .err()
            .unwrap_or_else(|| panic!("must stop the start: {start}"))
            .to_string();
        assert!(e.starts_with(&start), "{e}\nexpected: {start}");
    }
}

/// Read from a file, the configuration already refuses a bad colour.
#[test]
fn a_bad_colour_in_the_file_is_refused_when_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shim.toml");
    std::fs::write(
        &path,
        "[tenants.acme]\nissuer = \"https://idp.example\"\naudience = \"shim\"\n\
         algorithms = [\"HS256\"]\nhs256_secret = \"0123456789abcdef0123456789abcdef\"\n\
         [tenants.acme.branding]\ndisplay_name = \"ACME Corp\"\naccent = \"blue\"\n",
    )
    .unwrap();
    let e = Config::load(Some(&path)).unwrap_err().to_string();
    assert!(e.contains("tenants.acme.branding.accent: "), "{e}");
}

/// The demo brand in `examples/branding/acme` passes the start's checks.
#[test]
fn the_demo_brand_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/branding/acme");
    let demo = BrandingConfig {
        display_name: "ACME Corp".into(),
        logo_file: Some(dir.join("logo.svg")),
        accent: Some("#0b5fff".into()),
        accent_dark: Some("#8ab4ff".into()),
        stylesheet_file: Some(dir.join("style.css")),
        ..BrandingConfig::default()
    };
    let brand = Brand::load("demo-acme", &demo).unwrap();
    assert!(brand.logo_path("demo-acme").is_some());
    assert!(brand.style_path("demo-acme").is_some());
    assert!(std::fs::metadata(dir.join("logo.svg")).unwrap().len() < 2048);
}
