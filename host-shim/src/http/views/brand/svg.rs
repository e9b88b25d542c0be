//! The allowlist of an SVG logo, checked on `roxmltree`'s parse of it.
//!
//! The logo must be well-formed XML without a DTD (so no entity but XML's
//! five and character references, which the parser decodes before anything
//! here looks at a value), UTF-8 whatever its declaration says, with no
//! processing instruction. Every element is in the root's namespace (the SVG
//! namespace, or none for an `<svg>` a browser would not render) and in
//! [`ELEMENTS`], static drawing only: no script, `foreignObject`, `image`,
//! `style`, `a`, animation or filter. Every attribute is in an allowlist:
//! geometry and structure ([`PLAIN_ATTRIBUTES`]) as they are, presentation
//! ([`PRESENTATION_ATTRIBUTES`]) and `style` through the brand's CSS check
//! with `url(#id)` allowed, and `href` (plain or `xlink:`) only as `#id`.
//! Script-like attributes (`on…`, a `javascript:` URL) are named before the
//! element carrying them.

use roxmltree::{Attribute, Document, Node, ParsingOptions};

use crate::http::views::brand::LogoRefusal;
use crate::http::views::brand::css::{self, Place};

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// The elements of a static logo.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "symbol",
    "use",
    "title",
    "desc",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "textPath",
    "linearGradient",
    "radialGradient",
    "stop",
    "clipPath",
    "mask",
    "pattern",
];

/// Attributes (in no namespace) whose values can name no resource:
/// structure, accessibility, geometry, text layout, gradient, pattern and
/// clipping units.
const PLAIN_ATTRIBUTES: &[&str] = &[
    "id",
    "class",
    "lang",
    "role",
    "aria-label",
    "aria-labelledby",
    "aria-describedby",
    "aria-hidden",
    "version",
    "baseProfile",
    "viewBox",
    "preserveAspectRatio",
    "x",
    "y",
    "width",
    "height",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "fr",
    "d",
    "points",
    "pathLength",
    "transform",
    "dx",
    "dy",
    "rotate",
    "textLength",
    "lengthAdjust",
    "startOffset",
    "method",
    "spacing",
    "side",
    "offset",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "patternUnits",
    "patternContentUnits",
    "patternTransform",
    "clipPathUnits",
    "maskUnits",
    "maskContentUnits",
    "refX",
    "refY",
];

/// Presentation attributes: CSS values, checked as the property of the same
/// name (so `fill`, `clip-path` and `mask` reference only `url(#id)`).
const PRESENTATION_ATTRIBUTES: &[&str] = &[
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-opacity",
    "opacity",
    "color",
    "stop-color",
    "stop-opacity",
    "clip-path",
    "clip-rule",
    "mask",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "font-variant",
    "font-stretch",
    "text-anchor",
    "dominant-baseline",
    "alignment-baseline",
    "baseline-shift",
    "letter-spacing",
    "word-spacing",
    "text-decoration",
    "visibility",
    "display",
    "overflow",
    "shape-rendering",
    "text-rendering",
    "color-interpolation",
    "vector-effect",
    "paint-order",
    "transform-origin",
    "mix-blend-mode",
    "isolation",
];

/// Refused elements named by their SVG or HTML spelling whatever their case
/// (`<SCRIPT>` is a script to an HTML parser).
const NAMED_REFUSALS: &[&str] = &[
    "script",
    "foreignObject",
    "style",
    "image",
    "a",
    "iframe",
    "object",
    "embed",
    "animate",
    "animateMotion",
    "animateTransform",
    "set",
    "filter",
    "feImage",
    "handler",
    "listener",
];

/// XML's white space.
fn xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Whether the first element, after an optional BOM, XML declaration and
/// comments, is `<svg`: what tells an SVG from other text.
pub(super) fn svg_root(text: &str) -> bool {
    let mut rest = text.strip_prefix('\u{feff}').unwrap_or(text);
    rest = rest.trim_start_matches(xml_space);
    if let Some(declaration) = rest.strip_prefix("<?xml") {
        match declaration.split_once("?>") {
            Some((_, after)) => rest = after.trim_start_matches(xml_space),
            None => return false,
        }
    }
    while let Some(comment) = rest.strip_prefix("<!--") {
        match comment.split_once("-->") {
            Some((_, after)) => rest = after.trim_start_matches(xml_space),
            None => return false,
        }
    }
    rest.strip_prefix("<svg")
        .is_some_and(|after| after.starts_with(|c: char| xml_space(c) || c == '>' || c == '/'))
}

/// Check an SVG logo (whose first element is `<svg`) against the allowlist.
pub(super) fn check(text: &str) -> Result<(), LogoRefusal> {
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let document =
        Document::parse_with_options(text, options).map_err(|e| match script_hint(text) {
            Some(what) => LogoRefusal::SvgUnsafe(what.to_owned()),
            None => LogoRefusal::SvgXml(e.to_string()),
        })?;
    utf8_declared(text)?;
    let root = document.root_element();
    let namespace = namespace_of(root);
    if root.tag_name().name() != "svg" || !matches!(namespace, None | Some(SVG_NS)) {
        return Err(LogoRefusal::NotSvg);
    }
    for node in document.descendants() {
        if let Some(pi) = node.pi() {
            return Err(LogoRefusal::SvgUnsafe(format!(
                "a <?{}?> processing instruction",
                css::short(pi.target)
            )));
        }
        if node.is_element() {
            element(node, namespace)?;
        }
    }
    Ok(())
}

/// Check one element and its attributes.
fn element(node: Node<'_, '_>, namespace: Option<&str>) -> Result<(), LogoRefusal> {
    for attribute in node.attributes() {
        let name = attribute.name();
        if name
            .get(..2)
            .is_some_and(|on| on.eq_ignore_ascii_case("on"))
        {
            return Err(LogoRefusal::SvgUnsafe("an on…= event attribute".into()));
        }
        if javascript(attribute.value()) {
            return Err(LogoRefusal::SvgUnsafe("a javascript: URL".into()));
        }
    }
    let tag = node.tag_name();
    if namespace_of(node) != namespace {
        let place = match namespace_of(node) {
            Some(uri) => format!("the namespace {}", css::short(uri)),
            None => "no namespace".into(),
        };
        return Err(LogoRefusal::SvgUnsafe(format!(
            "{} element in {place}",
            named(tag.name())
        )));
    }
    if !ELEMENTS.contains(&tag.name()) {
        return Err(LogoRefusal::SvgUnsafe(format!(
            "{} element",
            named(tag.name())
        )));
    }
    node.attributes().try_for_each(|a| attribute(node, &a))
}

/// An element's namespace, `None` for none (`xmlns=""` included).
fn namespace_of<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.tag_name().namespace().filter(|uri| !uri.is_empty())
}

/// Check one attribute against the allowlist.
fn attribute(node: Node<'_, '_>, attribute: &Attribute<'_, '_>) -> Result<(), LogoRefusal> {
    let (name, value) = (attribute.name(), attribute.value());
    let style = |refusal| LogoRefusal::SvgStyle(name.to_owned(), refusal);
    match attribute.namespace() {
        None if PLAIN_ATTRIBUTES.contains(&name) => Ok(()),
        None if PRESENTATION_ATTRIBUTES.contains(&name) => {
            css::check_value(name, value, Place::Svg).map_err(style)
        }
        None if name == "style" => css::check_declarations(value, Place::Svg).map_err(style),
        None | Some(XLINK_NS) if name == "href" => {
            if css::local_reference(value) {
                Ok(())
            } else {
                Err(LogoRefusal::SvgLink(css::short(value)))
            }
        }
        Some(XML_NS) if matches!(name, "space" | "lang") => Ok(()),
        _ => {
            let written = node
                .document()
                .input_text()
                .get(attribute.range_qname())
                .unwrap_or(name);
            Err(LogoRefusal::SvgUnsafe(format!(
                "the attribute {}",
                css::short(written)
            )))
        }
    }
}

/// `a <name>` or `an <name>`, refused names as SVG or HTML spell them.
fn named(name: &str) -> String {
    let name = NAMED_REFUSALS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or(name);
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    format!("{article} <{}>", css::short(name))
}

/// Whether a (decoded) value holds a `javascript:` URL, however spaced or
/// cased (URL parsers drop tabs and newlines, and leading controls).
fn javascript(value: &str) -> bool {
    let squeezed: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    squeezed.contains("javascript:")
}

/// Refuse an XML declaration naming an encoding other than UTF-8: the logo is
/// served without a charset, so a browser would decode it by the declaration,
/// and another decoding could show it markup this check never saw.
fn utf8_declared(text: &str) -> Result<(), LogoRefusal> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(mut rest) = text
        .strip_prefix("<?xml")
        .filter(|rest| rest.starts_with(xml_space))
    else {
        return Ok(());
    };
    // The parser has checked the declaration's form: pseudo-attributes
    // `name = "value"` (or single quotes) up to `?>`.
    loop {
        rest = rest.trim_start_matches(xml_space);
        if rest.starts_with("?>") {
            return Ok(());
        }
        let unreadable = || LogoRefusal::SvgXml("an unreadable XML declaration".into());
        let (name, after) = rest.split_once('=').ok_or_else(unreadable)?;
        let after = after.trim_start_matches(xml_space);
        let quote = after.chars().next().filter(|q| matches!(q, '"' | '\''));
        let quote = quote.ok_or_else(unreadable)?;
        let (value, after) = after
            .get(1..)
            .and_then(|a| a.split_once(quote))
            .ok_or_else(unreadable)?;
        if name.trim_end_matches(xml_space) == "encoding" && !value.eq_ignore_ascii_case("utf-8") {
            return Err(LogoRefusal::SvgEncoding(css::short(value)));
        }
        rest = after;
    }
}

/// What makes a logo that is not well-formed XML look like an attack, to name
/// it rather than the parse error (ASCII case-insensitive).
fn script_hint(text: &str) -> Option<&'static str> {
    const FORBIDDEN: [(&str, &str); 5] = [
        ("<script", "a <script> element"),
        ("<foreignobject", "a <foreignObject> element"),
        ("<!entity", "an <!ENTITY> declaration"),
        ("<!doctype", "a <!DOCTYPE> declaration"),
        ("javascript:", "a javascript: URL"),
    ];
    let lower = text.to_ascii_lowercase();
    if let Some((_, what)) = FORBIDDEN.iter().find(|(needle, _)| lower.contains(needle)) {
        return Some(what);
    }
    event_attribute(lower.as_bytes()).then_some("an on…= event attribute")
}

/// Whether lowercase `text` has ` on<name>=`: white space or `/`, `on`, at
/// least one name character, optional white space, `=`.
fn event_attribute(text: &[u8]) -> bool {
    let name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.');
    text.windows(3).enumerate().any(|(i, w)| {
        if !(matches!(w[0], b' ' | b'\t' | b'\r' | b'\n' | b'/') && &w[1..] == b"on") {
            return false;
        }
        let after = text.get(i + 3..).unwrap_or_default();
        let named = after.iter().take_while(|b| name(**b)).count();
        let rest = after.get(named..).unwrap_or_default();
        named > 0
            && rest
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'=')
    })
}
