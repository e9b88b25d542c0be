//! The SVG allowlist: benign logos pass; the attack run's logos, and every
//! element, attribute, link, paint value and XML construct outside the
//! allowlist, are refused, naming the construct.

use super::*;

fn unsafe_svg(what: &str) -> Result<Kind, LogoRefusal> {
    Err(LogoRefusal::SvgUnsafe(what.into()))
}

/// A logo as a design tool writes one: gradients, a clip path, a symbol used
/// by reference, text, and colours in `style` attributes.
const GRADIENT_LOGO: &str = r##"<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!-- Gradient Co -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     version="1.1" viewBox="0 0 120 40" width="120" height="40" role="img" aria-labelledby="t">
  <title id="t">Gradient Co</title>
  <desc>A rounded tile with a gradient, a sun and a peak, and the name.</desc>
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="1" y2="1" gradientUnits="objectBoundingBox">
      <stop offset="0" stop-color="#0b5fff"/>
      <stop offset="1" style="stop-color: rgb(138 180 255); stop-opacity: .9"/>
    </linearGradient>
    <radialGradient id="sun" xlink:href="#sky" cx="50%" cy="50%" r="50%" spreadMethod="pad"/>
    <clipPath id="tile" clipPathUnits="userSpaceOnUse"><rect width="40" height="40" rx="8"/></clipPath>
    <symbol id="peak" viewBox="0 0 10 10"><path d="M0 10 L5 0 L10 10 Z"/></symbol>
  </defs>
  <g clip-path="url(#tile)" transform="translate(0 0)">
    <rect width="40" height="40" fill="url(#sky)"/>
    <circle cx="28" cy="12" r="6" fill="url('#sun') #ffd166" stroke="none"/>
    <use href="#peak" x="4" y="14" width="24" height="24" fill="#fff" opacity="0.9"/>
  </g>
  <text x="48" y="27" font-family="'Segoe UI', sans-serif" font-size="16" font-weight="600"
        xml:space="preserve" style="fill: var(--ink, #0a1f44); letter-spacing: .02em">Gradient<tspan dx="2" fill-opacity=".7">Co</tspan></text>
</svg>
"##;

#[test]
fn benign_logos_are_accepted() {
    let demo = include_str!("../../../../../../examples/branding/acme/logo.svg");
    for svg in [demo, GRADIENT_LOGO, SVG] {
        assert_eq!(sniff(svg.as_bytes()), Ok(Kind::Svg), "{svg}");
    }
}

/// The SVGs of the attack run that passed the string filters.
#[test]
fn the_attack_runs_svgs_are_refused_naming_the_construct() {
    for (body, refusal) in [
        (
            in_svg(r#"<a href="&#106;avascript:alert(1)"><rect width="1" height="1"/></a>"#),
            unsafe_svg("a javascript: URL"),
        ),
        (
            in_svg(r#"<a xlink:href="&#x6A;avascript:alert(1)"><rect/></a>"#),
            unsafe_svg("a javascript: URL"),
        ),
        (
            in_svg(r#"<use href="java&#x09;script&#58;alert(1)"/>"#),
            unsafe_svg("a javascript: URL"),
        ),
        (
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:h=\"http://www.w3.org/1999/xhtml\">\
             <h:script>alert(1)</h:script></svg>"
                .into(),
            unsafe_svg("a <script> element in the namespace http://www.w3.org/1999/xhtml"),
        ),
        (
            in_svg(r#"<image href="https://evil.example/x.png" width="8" height="8"/>"#),
            unsafe_svg("an <image> element"),
        ),
        (
            in_svg(r#"<use href="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=#x"/>"#),
            Err(LogoRefusal::SvgLink(
                "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=#x".into(),
            )),
        ),
        (
            in_svg("<style>@import url(https://evil.example/x.css);</style>"),
            unsafe_svg("a <style> element"),
        ),
    ] {
        assert_eq!(sniff(body.as_bytes()), refusal, "{body}");
    }
    let message = sniff(in_svg(r#"<use href="data:x"/>"#).as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "the SVG links to data:x, which is refused: only #id within the SVG is allowed"
    );
}

#[test]
fn svg_elements_outside_the_allowlist_are_refused_by_name() {
    for (body, what) in [
        ("<foreignObject/>", "a <foreignObject> element"),
        ("<iframe/>", "an <iframe> element"),
        ("<SCRIPT/>", "a <script> element"),
        ("<a><rect/></a>", "an <a> element"),
        (
            "<rect><animate attributeName=\"x\"/></rect>",
            "an <animate> element",
        ),
        ("<set attributeName=\"x\" to=\"1\"/>", "a <set> element"),
        ("<filter><feImage/></filter>", "a <filter> element"),
        ("<switch/>", "a <switch> element"),
        ("<metadata/>", "a <metadata> element"),
        ("<rect xmlns=\"\"/>", "a <rect> element in no namespace"),
    ] {
        assert_eq!(sniff(in_svg(body).as_bytes()), unsafe_svg(what), "{body}");
    }
    // A root outside the SVG namespace is no SVG.
    let xhtml = "<svg xmlns=\"http://www.w3.org/1999/xhtml\"><script/></svg>";
    assert_eq!(sniff(xhtml.as_bytes()), Err(LogoRefusal::NotSvg));
    // Without any namespace (nothing a browser renders), the same allowlist.
    assert_eq!(
        sniff(b"<svg><image href=\"x.png\"/></svg>"),
        unsafe_svg("an <image> element")
    );
}

#[test]
fn svg_attributes_outside_the_allowlist_are_refused() {
    for (body, what) in [
        (
            r#"<g xml:base="https://evil.example/"/>"#,
            "the attribute xml:base",
        ),
        (r#"<rect target="_top"/>"#, "the attribute target"),
        (r#"<rect filter="url(#f)"/>"#, "the attribute filter"),
        (
            r#"<g xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" inkscape:label="x"/>"#,
            "the attribute inkscape:label",
        ),
        (r#"<rect onClick="x"/>"#, "an on…= event attribute"),
        (
            r##"<rect fill="#fff" on-x=""/>"##,
            "an on…= event attribute",
        ),
        (
            r#"<rect style="fill:url(JavaScript:alert(1))"/>"#,
            "a javascript: URL",
        ),
    ] {
        assert_eq!(sniff(in_svg(body).as_bytes()), unsafe_svg(what), "{body}");
    }
}

#[test]
fn svg_links_go_only_to_its_own_ids() {
    assert_eq!(
        sniff(in_svg(r##"<use href="#a"/><use xlink:href="#b.c-d_e"/>"##).as_bytes()),
        Ok(Kind::Svg)
    );
    for target in [
        "https://evil.example/sprite.svg#a",
        "sprite.svg#a",
        "//evil.example/#a",
        "#",
        " #a",
        "#a b",
    ] {
        for attribute in ["href", "xlink:href"] {
            let body = in_svg(&format!("<use {attribute}=\"{target}\"/>"));
            assert_eq!(
                sniff(body.as_bytes()),
                Err(LogoRefusal::SvgLink(target.into())),
                "{body}"
            );
        }
    }
}

#[test]
fn svg_paint_and_style_attributes_are_checked_as_css() {
    let style = |attribute: &str, refusal| Err(LogoRefusal::SvgStyle(attribute.into(), refusal));
    for (body, refusal) in [
        (
            r#"<rect fill="url(https://evil.example/p.svg#g)"/>"#,
            style(
                "fill",
                StyleRefusal::Url("https://evil.example/p.svg#g".into()),
            ),
        ),
        (
            r#"<g clip-path="url('other.svg#c')"/>"#,
            style("clip-path", StyleRefusal::Url("other.svg#c".into())),
        ),
        (
            r#"<g mask="url(&quot;https://x&quot;)"/>"#,
            style("mask", StyleRefusal::Url("https://x".into())),
        ),
        (
            r#"<rect style="fill: url(https://evil.example/p.svg#g)"/>"#,
            style(
                "style",
                StyleRefusal::Url("https://evil.example/p.svg#g".into()),
            ),
        ),
        (
            r#"<rect style="background: image-set('https://evil.example/x.png' 1x)"/>"#,
            style("style", StyleRefusal::Function("image-set".into())),
        ),
        (
            r#"<rect style="content: 'x'"/>"#,
            style("style", StyleRefusal::Property("content".into())),
        ),
        (
            r#"<text font-family="x" fill="&quot;red&quot;">t</text>"#,
            style("fill", StyleRefusal::String("fill".into())),
        ),
        (
            r#"<rect fill="red; x: y"/>"#,
            style("fill", StyleRefusal::Unexpected(";".into())),
        ),
    ] {
        assert_eq!(sniff(in_svg(body).as_bytes()), refusal, "{body}");
    }
}

#[test]
fn svg_without_well_formed_utf8_xml_is_refused() {
    // Before the root, a processing instruction is not what an SVG starts with.
    let pi = format!(
        "<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"https://evil.example/x.css\"?>{}",
        in_svg("")
    );
    assert_eq!(sniff(pi.as_bytes()), Err(LogoRefusal::NotSvg));
    let trailing = format!(
        "{}<?xml-stylesheet href=\"https://evil.example/x.css\"?>",
        in_svg("")
    );
    assert_eq!(
        sniff(trailing.as_bytes()),
        unsafe_svg("a <?xml-stylesheet?> processing instruction")
    );
    let inner_pi = in_svg("<?php echo 1; ?>");
    assert_eq!(
        sniff(inner_pi.as_bytes()),
        unsafe_svg("a <?php?> processing instruction")
    );
    let entity = in_svg("<text>&xxe;</text>");
    assert!(
        matches!(sniff(entity.as_bytes()), Err(LogoRefusal::SvgXml(_))),
        "{entity}"
    );
    let unclosed = in_svg("<g>");
    assert!(matches!(
        sniff(unclosed.as_bytes()),
        Err(LogoRefusal::SvgXml(_))
    ));
    for encoding in ["Shift_JIS", "ISO-2022-JP", "UTF-16"] {
        let declared = format!(
            "<?xml version=\"1.0\" encoding='{encoding}'?>{}",
            in_svg("")
        );
        assert_eq!(
            sniff(declared.as_bytes()),
            Err(LogoRefusal::SvgEncoding(encoding.into())),
            "{declared}"
        );
    }
    let utf8 = format!("<?xml version='1.0' encoding = \"UTF-8\" ?>{}", in_svg(""));
    assert_eq!(sniff(utf8.as_bytes()), Ok(Kind::Svg));
}

/// The parse and the walk are iterative: a logo nested as deep as its size
/// allows is checked like any other.
#[test]
fn a_deeply_nested_svg_is_checked_without_recursion() {
    let depth = (MAX_LOGO_BYTES - 200) / 7;
    let deep = in_svg(&format!("{}{}", "<g>".repeat(depth), "</g>".repeat(depth)));
    assert_eq!(sniff(deep.as_bytes()), Ok(Kind::Svg));
    let hostile = in_svg(&format!(
        "{}<image/>{}",
        "<g>".repeat(depth),
        "</g>".repeat(depth)
    ));
    assert_eq!(sniff(hostile.as_bytes()), unsafe_svg("an <image> element"));
}
