//! The catalogues are complete: each parses, each language has exactly
//! English's messages, attributes and arguments, every message the code or the
//! templates name exists, and every message is used.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use fluent_syntax::ast;

use crate::http::views::i18n::{Language, SOURCES, Tr};

/// Per message (and `message.attribute`): its variables.
type Shape = BTreeMap<String, BTreeSet<String>>;

fn variables_of_pattern(p: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &p.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            variables_of_expression(expression, out);
        }
    }
}

fn variables_of_expression(e: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
    match e {
        ast::Expression::Select { selector, variants } => {
            variables_of_inline(selector, out);
            for v in variants {
                variables_of_pattern(&v.value, out);
            }
        }
        ast::Expression::Inline(i) => variables_of_inline(i, out),
    }
}

fn variables_of_inline(i: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match i {
        ast::InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => variables_of_expression(expression, out),
        _ => {}
    }
}

fn shape(lang: Language) -> Shape {
    let (_, files) = SOURCES.iter().find(|(l, _)| *l == lang).unwrap();
    let mut shape = Shape::new();
    for source in files {
        let resource = fluent_syntax::parser::parse(*source)
            .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", lang.tag()));
        for entry in &resource.body {
            match entry {
                ast::Entry::Message(m) => {
                    let mut vars = BTreeSet::new();
                    if let Some(v) = &m.value {
                        variables_of_pattern(v, &mut vars);
                    }
                    let id = m.id.name.to_owned();
                    assert!(shape.insert(id.clone(), vars).is_none(), "{id} twice");
                    for a in &m.attributes {
                        let mut vars = BTreeSet::new();
                        variables_of_pattern(&a.value, &mut vars);
                        shape.insert(format!("{id}.{}", a.id.name), vars);
                    }
                }
                ast::Entry::Junk { content } => panic!("{}: junk {content:?}", lang.tag()),
                ast::Entry::Term(t) => panic!("{}: term {} (not used here)", lang.tag(), t.id.name),
                _ => {}
            }
        }
    }
    shape
}

#[test]
fn every_language_has_englishs_messages_with_the_same_arguments() {
    let en = shape(Language::En);
    for lang in [Language::Fr, Language::De] {
        let other = shape(lang);
        let missing: Vec<_> = en.keys().filter(|k| !other.contains_key(*k)).collect();
        let extra: Vec<_> = other.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing.is_empty(), "{} lacks {missing:?}", lang.tag());
        assert!(extra.is_empty(), "{} has extra {extra:?}", lang.tag());
        for (id, vars) in &en {
            assert_eq!(&other[id], vars, "{}: {id} has other arguments", lang.tag());
        }
    }
}

/// Quoted kebab-case literals in the sources that name a message.
fn named_ids(en: &Shape) -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    for dir in ["src", "templates"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.file_name().is_some_and(|n| n != "tests.rs") {
                    texts.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
    }
    let all = texts.concat();
    let mut named = BTreeSet::new();
    for id in en.keys() {
        let base = id.split('.').next().unwrap();
        if all.contains(&format!("\"{base}\"")) {
            named.insert(id.clone());
        }
    }
    named
}

#[test]
fn every_message_is_used_and_every_message_used_exists() {
    let en = shape(Language::En);
    let named = named_ids(&en);
    let unused: Vec<_> = en.keys().filter(|k| !named.contains(*k)).collect();
    assert!(unused.is_empty(), "messages no page uses: {unused:?}");
    // The other way: every literal id passed to the catalogues exists.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut refs = BTreeSet::new();
    let mut stack = vec![root.join("src"), root.join("templates")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.ends_with("i18n/tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for call in [
                "msg(\"",
                "with(\"",
                "Msg::new(\"",
                "Refusal::new(StatusCode::",
            ] {
                for piece in text.split(call).skip(1) {
                    let piece =
                        piece.trim_start_matches(|c: char| c.is_ascii_uppercase() || c == '_');
                    let piece = piece.trim_start_matches([',', ' ', '"']);
                    let id: String = piece
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                        .collect();
                    if id.contains('-') || ["datetime"].contains(&id.as_str()) {
                        refs.insert(id);
                    }
                }
            }
        }
    }
    let unknown: Vec<_> = refs.iter().filter(|r| !en.contains_key(*r)).collect();
    assert!(unknown.is_empty(), "ids with no message: {unknown:?}");
    // Every refusal has a title.
    for id in en
        .keys()
        .filter(|k| k.starts_with("refusal-") && !k.contains('.'))
    {
        assert!(
            en.contains_key(&format!("{id}.title")),
            "{id} has no .title"
        );
    }
}

#[test]
fn catalogues_load_and_format_in_every_language() {
    crate::http::views::i18n::init().unwrap();
    for lang in Language::ALL {
        let t = Tr::new(lang, None);
        for (id, vars) in shape(Language::En) {
            let args: Vec<(&'static str, crate::http::views::i18n::Arg)> = vars
                .iter()
                .map(|v| {
                    (
                        &*Box::leak(v.clone().into_boxed_str()),
                        crate::http::views::i18n::Arg::Num(2),
                    )
                })
                .collect();
            let text = t.with(&id, &args);
            assert_ne!(text, id, "{}: {id} did not format", lang.tag());
            assert!(
                !text.contains('\u{2068}'),
                "{}: {id} has isolation marks",
                lang.tag()
            );
        }
    }
    fn send_sync<T: Send + Sync>() {}
    send_sync::<crate::http::views::i18n::Bundle>();
}

#[test]
fn plurals_follow_each_language() {
    let en = Tr::new(Language::En, None);
    let fr = Tr::new(Language::Fr, None);
    let de = Tr::new(Language::De, None);
    assert_eq!(en.wait(60), "1 minute");
    assert_eq!(en.wait(120), "2 minutes");
    assert_ne!(fr.wait(60), fr.wait(120));
    assert_ne!(de.wait(3600), de.wait(7200));
    assert_eq!(de.time(1_800_000_000), "15.01.2027, 08:00 Uhr (UTC)");
}

#[test]
fn a_message_cuts_around_an_argument_in_every_word_order() {
    for lang in Language::ALL {
        let t = Tr::new(lang, None);
        let (before, after) = t.around("self-set-heading", &[], "fingerprint");
        let whole = t.with(
            "self-set-heading",
            &[(
                "fingerprint",
                crate::http::views::i18n::Arg::Str("K7QF".into()),
            )],
        );
        assert_eq!(format!("{before}K7QF{after}"), whole, "{}", lang.tag());
        let service = [("service", crate::http::views::i18n::Arg::Str("ACME".into()))];
        let (before, after) = t.around("codes-intro", &service, "fingerprint");
        assert!(
            before.contains("ACME") && !after.contains('\u{E000}'),
            "{}",
            lang.tag()
        );
    }
}
