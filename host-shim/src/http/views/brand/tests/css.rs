//! The stylesheet allowlist: benign sheets pass; the attack run's sheets, and
//! every at-rule, property, function, string, URL and construct outside the
//! allowlist, are refused, naming the construct.

use super::*;

#[test]
fn a_stylesheet_of_allowed_rules_is_accepted_without_its_bom() {
    let css = "\u{feff}header { background: #eef3ff } .x { background-color: var(--accent) }";
    let checked = stylesheet(css.as_bytes()).unwrap();
    assert!(checked.starts_with("header"), "the BOM is dropped");
    assert!(stylesheet(b"").unwrap().is_empty());
}

#[test]
fn a_stylesheet_with_import_is_refused() {
    for css in [
        "@import 'x.css';",
        "@IMPORT url(x.css);",
        "a{} @Import \"y\";",
    ] {
        assert_eq!(
            stylesheet(css.as_bytes()),
            Err(StyleRefusal::Import),
            "{css}"
        );
    }
}

/// Every `url(…)` is refused, same-origin ones too (a brand stylesheet loads
/// nothing), quoted or not, its target decoded.
#[test]
fn a_stylesheet_with_any_url_is_refused() {
    for (css, target) in [
        ("header { background: url(img/band.png) }", "img/band.png"),
        (".x { background: URL( \"a.png\" ) }", "a.png"),
        (
            "a{background:url(https://evil.example/x.png)}",
            "https://evil.example/x.png",
        ),
        (
            "a{background:url( '//evil.example/x.png' )}",
            "//evil.example/x.png",
        ),
        (
            "a{background:URL(\"data:image/png;base64,AAAA\")}",
            "data:image/png;base64,AAAA",
        ),
        ("a{background:url(\\2f\\2f evil.example)}", "//evil.example"),
        ("a{background:\\75rl(x.png)}", "x.png"),
        (
            "a{} b{background:url(ok.png)} c{background:url(http:x)}",
            "ok.png",
        ),
        (
            "a{color:red} b{background:url(https://evil.example",
            "https://evil.example",
        ),
        ("a{background:url(x y)}", "x y"),
    ] {
        assert_eq!(
            stylesheet(css.as_bytes()),
            Err(StyleRefusal::Url(target.into())),
            "{css}"
        );
    }
}

#[test]
fn a_stylesheet_too_large_or_not_utf8_is_refused() {
    let big = vec![b' '; MAX_STYLESHEET_BYTES + 1];
    assert_eq!(stylesheet(&big), Err(StyleRefusal::TooLarge));
    assert!(stylesheet(&vec![b' '; MAX_STYLESHEET_BYTES]).is_ok());
    assert_eq!(stylesheet(b"a{content:'\xff'}"), Err(StyleRefusal::NotUtf8));
}

/// The stylesheets of the attack run that passed the string filters, and the
/// constructs the brief names.
#[test]
fn the_attack_runs_stylesheets_are_refused_naming_the_construct() {
    for (css, refusal) in [
        (
            "a { background: image-set('https://evil.example/x.png' 1x) }",
            StyleRefusal::Function("image-set".into()),
        ),
        (
            "@font-face { font-family: x; src: \"https://evil.example/f.woff\" }",
            StyleRefusal::AtRule("font-face".into()),
        ),
        (
            "@font-face { font-family: x; src: url(https://evil.example/f.woff) }",
            StyleRefusal::AtRule("font-face".into()),
        ),
        (
            "a { src: \"https://evil.example/f.woff\" }",
            StyleRefusal::Property("src".into()),
        ),
        (
            "a { background: url(https://evil.example/x.png) }",
            StyleRefusal::Url("https://evil.example/x.png".into()),
        ),
        ("@import 'x.css';", StyleRefusal::Import),
    ] {
        assert_eq!(stylesheet(css.as_bytes()), Err(refusal), "{css}");
    }
    assert_eq!(
        StyleRefusal::Function("image-set".into()).to_string(),
        "image-set() is refused: not one of the functions allowed"
    );
}

#[test]
fn stylesheet_constructs_outside_the_allowlist_are_refused() {
    for (css, refusal) in [
        (
            "@namespace svg url(x);",
            StyleRefusal::AtRule("namespace".into()),
        ),
        (
            "@charset \"utf-8\"; a{}",
            StyleRefusal::AtRule("charset".into()),
        ),
        (
            "@supports (display:grid) {}",
            StyleRefusal::AtRule("supports".into()),
        ),
        ("@keyframes k {}", StyleRefusal::AtRule("keyframes".into())),
        ("@FONT-FACE {}", StyleRefusal::AtRule("FONT-FACE".into())),
        ("@media print { @import 'x'; }", StyleRefusal::Import),
        (
            "@media print { a { background: url(x) } }",
            StyleRefusal::Url("x".into()),
        ),
        (
            "@media (min-width: 30rem) { @media print { a { content: 'x' } } }",
            StyleRefusal::Property("content".into()),
        ),
        (
            "a { position: fixed }",
            StyleRefusal::Property("position".into()),
        ),
        (
            "a { -moz-binding: none }",
            StyleRefusal::Property("-moz-binding".into()),
        ),
        (
            "a { behavior: none }",
            StyleRefusal::Property("behavior".into()),
        ),
        (
            "a { background-image: none }",
            StyleRefusal::Property("background-image".into()),
        ),
        (
            "a { color: expression(alert(1)) }",
            StyleRefusal::Function("expression".into()),
        ),
        (
            "a { background: image(x) }",
            StyleRefusal::Function("image".into()),
        ),
        (
            "a { background: element(#x) }",
            StyleRefusal::Function("element".into()),
        ),
        (
            "a { background: cross-fade(a, b) }",
            StyleRefusal::Function("cross-fade".into()),
        ),
        (
            "a { background: -webkit-image-set(a 1x) }",
            StyleRefusal::Function("-webkit-image-set".into()),
        ),
        (
            "a { background: linear-gradient(red, blue) }",
            StyleRefusal::Function("linear-gradient".into()),
        ),
        (
            "a { color: var(--x, src(x)) }",
            StyleRefusal::Function("src".into()),
        ),
        (
            "a { color: \\69 mage-set(x) }",
            StyleRefusal::Function("image-set".into()),
        ),
        ("a:url(x) { color: red }", StyleRefusal::Url("x".into())),
        (
            "a:image-set(x) { color: red }",
            StyleRefusal::Function("image-set".into()),
        ),
        ("@media url(x) { }", StyleRefusal::Url("x".into())),
        (
            "a { --x: \"https://evil.example\" }",
            StyleRefusal::String("--x".into()),
        ),
        ("a { color: \"red\" }", StyleRefusal::String("color".into())),
        (
            "a { color: red; @media print { b { color: red } } }",
            StyleRefusal::Unexpected("@media".into()),
        ),
        ("a { color: { red } }", StyleRefusal::Unexpected("{".into())),
        (
            "<!-- a { color: red } -->",
            StyleRefusal::Unexpected("<!--".into()),
        ),
        (
            "a { color: red }\n/*# sourceMappingURL=https://evil.example/x.map */",
            StyleRefusal::SourceMap,
        ),
    ] {
        assert_eq!(stylesheet(css.as_bytes()), Err(refusal), "{css}");
    }
    // Nested rules, and declarations outside a rule, cannot be read as the
    // allowlist's rules.
    for css in [
        "a { b { color: red } }",
        "a { .b { color: red } }",
        "color: red;",
        "a { color }",
    ] {
        assert!(
            matches!(stylesheet(css.as_bytes()), Err(StyleRefusal::Syntax(..))),
            "{css}: {:?}",
            stylesheet(css.as_bytes())
        );
    }
    assert_eq!(
        stylesheet(b"a { color: red }\nb { c { color: red } }"),
        Err(StyleRefusal::Syntax(2, 5))
    );
}

#[test]
fn benign_stylesheets_are_accepted() {
    let demo = include_str!("../../../../../../examples/branding/acme/style.css");
    let typical = r#"
        /* A brand: its colours, a font stack, spacing. */
        :root { --brand: #0b5fff; --ink: rgb(10 31 68 / 90%); --wash: hsla(220, 100%, 97%, 1); }
        @media (prefers-color-scheme: dark) and (min-width: 30rem) {
          :root { --ink: hsl(220 80% 90%); }
          @media print { :root { --ink: #000; } }
        }
        @media (width >= 40rem), print { main { max-width: min(40rem, 100%); } }
        body { font: 1rem/1.5 "Source Sans 3", 'Segoe UI', system-ui, sans-serif; color: var(--ink); }
        header.brand, footer.brand-links { background: var(--wash, #fff); padding: clamp(.5rem, 2vw, 1rem); }
        input[type="text"]:not([aria-invalid="true"]) { border-color: var(--brand) !important; }
        li:nth-child(2n+1)::marker, a:is(:hover, :focus-visible) { color: #0A1F44; text-decoration: underline 2px; }
        h1 { margin: calc(1rem + 2px) 0 0; letter-spacing: -.01em; font-weight: 700; }
        button { border-radius: 999px; box-shadow: 0 1px 2px rgba(0, 0, 0, .2); cursor: pointer; }
    "#;
    for css in [demo, typical] {
        assert_eq!(stylesheet(css.as_bytes()).as_deref(), Ok(css), "{css}");
    }
}

/// Blocks nested deeper than the parser's limit are refused, not walked into
/// a stack overflow.
#[test]
fn deeply_nested_css_is_refused() {
    let calc = format!("a{{color:{}}}", "calc(".repeat(12_000));
    assert!(matches!(
        stylesheet(calc.as_bytes()),
        Err(StyleRefusal::Syntax(..))
    ));
    let media = format!("{}a{{}}", "@media print{".repeat(4_000));
    assert!(matches!(
        stylesheet(media.as_bytes()),
        Err(StyleRefusal::Syntax(..))
    ));
}
