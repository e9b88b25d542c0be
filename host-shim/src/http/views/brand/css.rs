//! The CSS allowlist of a brand, checked on servo's `cssparser` (the CSS
//! Syntax Level 3 tokenizer and rule structure browsers implement).
//!
//! An operator stylesheet holds style rules, and `@media` rules around them
//! (nested ones too); every other at-rule is refused, `@charset` included (the
//! file is read and served as UTF-8 whatever it says). A style rule holds
//! declarations only (no nested rules), of the properties in [`PROPERTIES`]
//! or custom properties (`--name`). Values may call only the functions in
//! [`VALUE_FUNCTIONS`] and hold strings only in `font-family` and `font`, so
//! `url(…)`, `image-set(…)` and the like, quoted or not, are refused: a brand
//! stylesheet loads nothing. The tokenizer decodes escapes before any name is
//! compared, and nothing is skipped: any token or rule the check does not
//! understand refuses the whole sheet, so whatever a browser applies has been
//! checked.
//!
//! The same value check serves an SVG logo's presentation and `style`
//! attributes ([`Place::Svg`]), where `url(#id)`, a reference within the
//! SVG, is allowed.

use cssparser::{
    AtRuleParser, CowRcStr, DeclarationParser, ParseError, ParseErrorKind, Parser, ParserState,
    QualifiedRuleParser, RuleBodyItemParser, RuleBodyParser, SourceLocation, ToCss as _, Token,
};

use crate::http::views::brand::StyleRefusal;

/// The properties a brand may set, matched ASCII case-insensitively: colours
/// (backgrounds as colours: no image function passes the value check),
/// borders and outlines, spacing, fonts, text, layout basics, and the SVG
/// painting properties a logo's `style` attributes use. No positioning,
/// `content`, filters, animations or transitions.
const PROPERTIES: &[&str] = &[
    // colours and backgrounds
    "color",
    "background",
    "background-color",
    "opacity",
    "accent-color",
    "caret-color",
    "color-scheme",
    // borders, outlines and shadows
    "border",
    "border-color",
    "border-style",
    "border-width",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-top-color",
    "border-right-color",
    "border-bottom-color",
    "border-left-color",
    "border-top-style",
    "border-right-style",
    "border-bottom-style",
    "border-left-style",
    "border-top-width",
    "border-right-width",
    "border-bottom-width",
    "border-left-width",
    "border-block",
    "border-block-start",
    "border-block-end",
    "border-inline",
    "border-inline-start",
    "border-inline-end",
    "border-radius",
    "border-top-left-radius",
    "border-top-right-radius",
    "border-bottom-right-radius",
    "border-bottom-left-radius",
    "border-collapse",
    "border-spacing",
    "outline",
    "outline-color",
    "outline-style",
    "outline-width",
    "outline-offset",
    "box-shadow",
    // spacing
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "margin-block",
    "margin-block-start",
    "margin-block-end",
    "margin-inline",
    "margin-inline-start",
    "margin-inline-end",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "padding-block",
    "padding-block-start",
    "padding-block-end",
    "padding-inline",
    "padding-inline-start",
    "padding-inline-end",
    "gap",
    "row-gap",
    "column-gap",
    // fonts
    "font",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "font-variant",
    "font-stretch",
    "line-height",
    "letter-spacing",
    "word-spacing",
    // text
    "text-align",
    "text-decoration",
    "text-decoration-color",
    "text-decoration-line",
    "text-decoration-style",
    "text-decoration-thickness",
    "text-underline-offset",
    "text-transform",
    "text-indent",
    "text-shadow",
    "white-space",
    "overflow-wrap",
    "word-break",
    "hyphens",
    "vertical-align",
    "list-style",
    "list-style-type",
    "list-style-position",
    // layout basics
    "display",
    "cursor",
    "visibility",
    "box-sizing",
    "width",
    "height",
    "min-width",
    "min-height",
    "max-width",
    "max-height",
    "overflow",
    "overflow-x",
    "overflow-y",
    "flex",
    "flex-direction",
    "flex-wrap",
    "flex-flow",
    "flex-grow",
    "flex-shrink",
    "flex-basis",
    "align-items",
    "align-self",
    "align-content",
    "justify-content",
    "order",
    "columns",
    "column-count",
    "column-width",
    // SVG painting (a logo's `style` attributes)
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
    "stop-color",
    "stop-opacity",
    "clip-path",
    "clip-rule",
    "mask",
    "text-anchor",
    "dominant-baseline",
    "alignment-baseline",
    "baseline-shift",
    "paint-order",
    "vector-effect",
    "shape-rendering",
    "text-rendering",
    "color-interpolation",
    "transform-origin",
    "mix-blend-mode",
    "isolation",
];

/// The functions a value may call: custom properties, arithmetic, colours.
const VALUE_FUNCTIONS: &[&str] = &[
    "var", "rgb", "rgba", "hsl", "hsla", "calc", "min", "max", "clamp",
];

/// The functional pseudo-classes a selector may use.
const SELECTOR_FUNCTIONS: &[&str] = &[
    "not",
    "is",
    "where",
    "has",
    "nth-child",
    "nth-last-child",
    "nth-of-type",
    "nth-last-of-type",
    "lang",
    "dir",
];

/// How a custom property's name begins (`--accent`): any such property is allowed.
const CUSTOM_PROPERTY: &str = "--";

/// The properties whose values may hold strings (font family names).
const STRING_PROPERTIES: &[&str] = &["font-family", "font"];

/// Where CSS is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// The operator stylesheet: no `url(…)` at all.
    Page,
    /// An SVG logo's attributes: `url(#id)` within the SVG is allowed.
    Svg,
}

/// What a run of tokens is.
#[derive(Debug, Clone, Copy)]
enum Part<'a> {
    /// A style rule's selectors.
    Selector,
    /// An `@media` rule's queries.
    Media,
    /// A declaration's value.
    Value { property: &'a str, place: Place },
}

type Failure = ParseError<StyleRefusal>;

/// Check an operator stylesheet (UTF-8, any BOM already dropped).
pub(super) fn check_sheet(text: &str) -> Result<(), StyleRefusal> {
    let mut input = Parser::new(text);
    rule_list(&mut input).map_err(refusal_at_start)?;
    if input.current_source_map_url().is_some() || input.current_source_url().is_some() {
        return Err(StyleRefusal::SourceMap);
    }
    Ok(())
}

/// Check a declaration list (an SVG element's `style` attribute).
pub(super) fn check_declarations(text: &str, place: Place) -> Result<(), StyleRefusal> {
    let mut input = Parser::new(text);
    declaration_list(&mut input, place).map_err(refusal_at_start)
}

/// Check one property's value (an SVG presentation attribute).
pub(super) fn check_value(property: &str, text: &str, place: Place) -> Result<(), StyleRefusal> {
    let mut input = Parser::new(text);
    walk(&mut input, Part::Value { property, place }).map_err(refusal_at_start)
}

/// A refusal from an error whose place is unknown.
fn refusal_at_start(error: Failure) -> StyleRefusal {
    refusal((error, "", SourceLocation { line: 0, column: 1 }))
}

/// A refusal from a rule or declaration that failed: a refusal of ours as it
/// is, the parser's own errors as the place of the construct.
fn refusal((error, _, at): (Failure, &str, SourceLocation)) -> StyleRefusal {
    match error.kind {
        ParseErrorKind::Custom(refusal) => refusal,
        ParseErrorKind::Basic(_) => StyleRefusal::Syntax(at.line.saturating_add(1), at.column),
    }
}

/// A list of style and `@media` rules, to the end of `input`.
fn rule_list(input: &mut Parser<'_>) -> Result<(), Failure> {
    for item in RuleBodyParser::new(input, &mut Rules) {
        item.map_err(|e| ParseError::custom(refusal(e)))?;
    }
    Ok(())
}

/// A list of declarations, to the end of `input`.
fn declaration_list(input: &mut Parser<'_>, place: Place) -> Result<(), Failure> {
    for item in RuleBodyParser::new(input, &mut Declarations { place }) {
        item.map_err(|e| ParseError::custom(refusal(e)))?;
    }
    Ok(())
}

/// Parses a list of rules: style rules and `@media`.
struct Rules;

impl<'i> QualifiedRuleParser<'i> for Rules {
    type Prelude = ();
    type QualifiedRule = ();
    type Error = StyleRefusal;

    fn parse_prelude(&mut self, input: &mut Parser<'i>) -> Result<(), Failure> {
        walk(input, Part::Selector)
    }

    fn parse_block(
        &mut self,
        _: (),
        _: &ParserState,
        input: &mut Parser<'i>,
    ) -> Result<(), Failure> {
        declaration_list(input, Place::Page)
    }
}

impl<'i> AtRuleParser<'i> for Rules {
    type Prelude = ();
    type AtRule = ();
    type Error = StyleRefusal;

    fn parse_prelude(&mut self, name: CowRcStr<'i>, input: &mut Parser<'i>) -> Result<(), Failure> {
        if name.eq_ignore_ascii_case("media") {
            walk(input, Part::Media)
        } else {
            Err(ParseError::custom(at_rule(&name)))
        }
    }

    fn parse_block(
        &mut self,
        _: (),
        _: &ParserState,
        input: &mut Parser<'i>,
    ) -> Result<(), Failure> {
        rule_list(input)
    }
}

impl DeclarationParser<'_> for Rules {
    type Declaration = ();
    type Error = StyleRefusal;
}

impl<'i> RuleBodyItemParser<'i, (), StyleRefusal> for Rules {
    fn parse_declarations(&self) -> bool {
        false
    }

    fn parse_qualified(&self) -> bool {
        true
    }
}

/// Parses a style rule's block: declarations only.
struct Declarations {
    place: Place,
}

impl<'i> DeclarationParser<'i> for Declarations {
    type Declaration = ();
    type Error = StyleRefusal;

    fn parse_value(
        &mut self,
        name: CowRcStr<'i>,
        input: &mut Parser<'i>,
        _: &ParserState,
    ) -> Result<(), Failure> {
        if !name.starts_with(CUSTOM_PROPERTY)
            && !PROPERTIES.iter().any(|p| name.eq_ignore_ascii_case(p))
        {
            return Err(ParseError::custom(StyleRefusal::Property(short(&name))));
        }
        let place = self.place;
        walk(
            input,
            Part::Value {
                property: &name,
                place,
            },
        )
    }
}

impl<'i> AtRuleParser<'i> for Declarations {
    type Prelude = ();
    type AtRule = ();
    type Error = StyleRefusal;

    fn parse_prelude(&mut self, name: CowRcStr<'i>, _: &mut Parser<'i>) -> Result<(), Failure> {
        Err(ParseError::custom(StyleRefusal::Unexpected(format!(
            "@{}",
            short(&name)
        ))))
    }
}

impl QualifiedRuleParser<'_> for Declarations {
    type Prelude = ();
    type QualifiedRule = ();
    type Error = StyleRefusal;
}

impl<'i> RuleBodyItemParser<'i, (), StyleRefusal> for Declarations {
    fn parse_declarations(&self) -> bool {
        true
    }

    fn parse_qualified(&self) -> bool {
        false
    }
}

/// The refusal of an at-rule other than `@media`.
fn at_rule(name: &str) -> StyleRefusal {
    if name.eq_ignore_ascii_case("import") {
        StyleRefusal::Import
    } else {
        StyleRefusal::AtRule(short(name))
    }
}

/// Check every token of `input`, nested blocks included, as `part`.
fn walk(input: &mut Parser<'_>, part: Part<'_>) -> Result<(), Failure> {
    let in_svg = matches!(
        part,
        Part::Value {
            place: Place::Svg,
            ..
        }
    );
    while !input.is_exhausted() {
        let token = input.next()?.clone();
        match token {
            Token::Ident(_)
            | Token::Hash(_)
            | Token::IDHash(_)
            | Token::Number { .. }
            | Token::Percentage { .. }
            | Token::Dimension { .. }
            | Token::Delim(_)
            | Token::Comma
            | Token::Colon
            | Token::WhiteSpace(_)
            | Token::Comment(_) => {}
            Token::IncludeMatch
            | Token::DashMatch
            | Token::PrefixMatch
            | Token::SuffixMatch
            | Token::SubstringMatch
                if matches!(part, Part::Selector) => {}
            Token::QuotedString(_) => match part {
                Part::Selector => {}
                Part::Value { property, .. }
                    if STRING_PROPERTIES
                        .iter()
                        .any(|p| property.eq_ignore_ascii_case(p)) => {}
                Part::Value { property, .. } => {
                    return Err(ParseError::custom(StyleRefusal::String(short(property))));
                }
                Part::Media => {
                    return Err(ParseError::custom(StyleRefusal::String("@media".into())));
                }
            },
            Token::UnquotedUrl(target) if in_svg && local_reference(&target) => {}
            Token::UnquotedUrl(target) | Token::BadUrl(target) => {
                return Err(ParseError::custom(StyleRefusal::Url(short(&target))));
            }
            Token::Function(name) if name.eq_ignore_ascii_case("url") => {
                let target = input.parse_nested_block(url_argument)?;
                if !(in_svg && target.as_deref().is_some_and(local_reference)) {
                    let target = target.unwrap_or_else(|| "…".into());
                    return Err(ParseError::custom(StyleRefusal::Url(short(&target))));
                }
            }
            Token::Function(name) => {
                let allowed = match part {
                    Part::Selector => SELECTOR_FUNCTIONS,
                    Part::Media => &[],
                    Part::Value { .. } => VALUE_FUNCTIONS,
                };
                if !allowed.iter().any(|f| name.eq_ignore_ascii_case(f)) {
                    return Err(ParseError::custom(StyleRefusal::Function(short(&name))));
                }
                input.parse_nested_block(|input| walk(input, part))?;
            }
            Token::ParenthesisBlock if !matches!(part, Part::Selector) => {
                input.parse_nested_block(|input| walk(input, part))?;
            }
            Token::SquareBracketBlock if !matches!(part, Part::Media) => {
                // An attribute selector, or a value's brackets.
                input.parse_nested_block(|input| walk(input, part))?;
            }
            other => {
                return Err(ParseError::custom(StyleRefusal::Unexpected(short(
                    &other.to_css_string(),
                ))));
            }
        }
    }
    Ok(())
}

/// The argument of a `url(` function: a single string, if it is one.
fn url_argument(input: &mut Parser<'_>) -> Result<Option<String>, Failure> {
    let target = match input.next() {
        Ok(Token::QuotedString(s)) => Some(s.to_string()),
        _ => None,
    };
    // Whatever else the block holds is skipped: the url is refused or checked
    // on `target` alone, and `None` is refused.
    let target = if input.is_exhausted() { target } else { None };
    while input.next().is_ok() {}
    Ok(target)
}

/// `#id`: a reference within the same document.
pub(super) fn local_reference(target: &str) -> bool {
    target.strip_prefix('#').is_some_and(|id| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    })
}

/// At most 60 characters of `text` for a message, control characters shown
/// as `?`.
pub(super) fn short(text: &str) -> String {
    text.chars()
        .take(60)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
