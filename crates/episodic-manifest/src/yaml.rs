//! YAML text to a tree of values that each remember where they were written.
//!
//! The manifest is read in two passes: serde-saphyr parses the text into this [`Node`] tree (syntax
//! errors, duplicate keys, alias bombs and nesting limits stop here), then `read` walks the tree
//! and collects every schema error at once, which a derived `Deserialize` cannot do.

use crate::{Problem, Span};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A YAML value with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it was written.
    pub span: Span,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in written order; keys are strings with their own spans.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How the value's type is named in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Most nesting a manifest needs is 6 levels; 32 leaves room and stops stack-hungry input early.
const MAX_DEPTH: usize = 32;
/// A 10,000-segment manifest has about 100,000 nodes.
const MAX_NODES: usize = 2_000_000;

/// Parses YAML text into a node tree.
pub fn parse(text: &str) -> Result<Node, Problem> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_events = MAX_NODES * 2;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    // Anchors and aliases are legitimate for shared prompts, but a manifest never needs more
    // than a few thousand replayed events; the default million is what an alias bomb feeds on.
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 50_000;
    alias_limits.max_replay_stack_depth = 8;
    let options = serde_saphyr::options! {
        budget: Some(budget),
        alias_limits: alias_limits,
        strict_booleans: true,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Option<Spanned<RawNode>>>(text, options) {
        Ok(Some(root)) => Ok(convert(root)),
        Ok(None) => Err(Problem::error("empty-manifest", "the manifest is empty")
            .with_span(Span::new(0, 0), "nothing here")
            .with_help(
                "start from pipelines/demo/episode.yaml, or see the manifest reference in the README",
            )),
        Err(err) => Err(syntax_problem(text, &err)),
    }
}

fn syntax_problem(text: &str, err: &serde_saphyr::Error) -> Problem {
    let rendered = err.without_snippet().to_string();
    let message = strip_location_prefix(rendered.lines().next().unwrap_or("invalid YAML")).to_owned();
    let span = err.location().and_then(|location| byte_offset(text, location.line(), location.column())).map(
        |offset| {
            let len = text[offset..].chars().next().map(char::len_utf8).unwrap_or(0);
            Span::new(offset, len)
        },
    );
    let found = span.and_then(|span| text[span.range()].chars().next());
    if let (Some(span), Some(control)) =
        (span, found.filter(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')))
    {
        // Invisible in an editor, so say what it is rather than echo it.
        let name = if control == '\0' {
            "a NUL byte".to_owned()
        } else {
            format!("the control character U+{:04X}", u32::from(control))
        };
        return Problem::error("yaml-syntax", format!("invalid YAML: {name} in the text"))
            .with_span(span, "here")
            .with_help("delete it (it came from a binary file or a broken copy and paste) and save the manifest as plain UTF-8 text");
    }
    let (help, label) = if message.contains("budget") || message.contains("limit") {
        ("remove the deep nesting or repeated aliases: a manifest never needs them", "here")
    } else if message.contains("multiple YAML documents") {
        // serde-saphyr's own wording names its API; say what it means for a manifest.
        let problem = Problem::error("yaml-syntax", "invalid YAML: a second document starts here; a manifest is one document")
            .with_help("one episode per file: move the second document (after `---`) into a manifest of its own; `episodic render a.yaml b.yaml` renders both");
        return match span {
            Some(span) => problem.with_span(span, "second document"),
            None => problem,
        };
    } else if message.contains("duplicate mapping key") {
        ("each key may appear once in a mapping: remove or rename one of them", "repeated key")
    } else if text.contains('\t') && message.contains("tab") {
        ("YAML indentation must use spaces, not tabs", "tab here")
    } else {
        ("fix the YAML syntax here; strings with `:` or `#` need quotes", "here")
    };
    let mut problem = Problem::error("yaml-syntax", format!("invalid YAML: {message}")).with_help(help);
    if let Some(span) = span {
        problem = problem.with_span(span, label);
    }
    problem
}

/// The byte offset of a 1-based line and character column.
fn byte_offset(text: &str, line: u64, column: u64) -> Option<usize> {
    let line = usize::try_from(line).ok()?.checked_sub(1)?;
    let column = usize::try_from(column).ok()?.saturating_sub(1);
    let start = if line == 0 { 0 } else { text.match_indices('\n').nth(line - 1).map(|(at, _)| at + 1)? };
    let rest = &text[start..];
    let within = rest.char_indices().nth(column).map(|(at, _)| at).unwrap_or(rest.len());
    Some(start + within)
}

/// serde-saphyr prefixes messages with `line L column C: `; the diagnostic shows the place itself.
fn strip_location_prefix(message: &str) -> &str {
    let message = message.strip_prefix("error: ").unwrap_or(message);
    let message = match message.rfind(" at line ") {
        Some(at) if message[at..].contains("column") => &message[..at],
        _ => message,
    };
    if let Some(rest) = message.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
        && rest.split_once(": ").is_some_and(|(place, _)| place.contains("column"))
    {
        return after;
    }
    message
}

fn span_of<T>(spanned: &Spanned<T>) -> Span {
    let span = spanned.referenced.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(offset), Some(len)) => Span::new(offset as usize, len as usize),
        _ => Span::new(0, 0),
    }
}

fn convert(node: Spanned<RawNode>) -> Node {
    let span = span_of(&node);
    let value = match node.value {
        RawNode::Null => Value::Null,
        RawNode::Bool(value) => Value::Bool(value),
        RawNode::Int(value) => Value::Int(value),
        RawNode::Float(value) => Value::Float(value),
        RawNode::Str(value) => Value::Str(value),
        RawNode::Seq(items) => Value::Seq(items.into_iter().map(convert).collect()),
        RawNode::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(key, value)| {
                    let key_span = span_of(&key);
                    (Node { value: Value::Str(key.value), span: key_span }, convert(value))
                })
                .collect(),
        ),
    };
    Node { value, span }
}

/// The tree as serde-saphyr hands it over, before spans are made plain.
enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<String>, Spanned<RawNode>)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawNodeVisitor)
    }
}

struct RawNodeVisitor;

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(deserializer)
    }
    fn visit_bool<E>(self, value: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<RawNode, E> {
        Ok(i64::try_from(value).map(RawNode::Int).unwrap_or(RawNode::Float(value as f64)))
    }
    fn visit_i128<E>(self, value: i128) -> Result<RawNode, E> {
        Ok(i64::try_from(value).map(RawNode::Int).unwrap_or(RawNode::Float(value as f64)))
    }
    fn visit_u128<E>(self, value: u128) -> Result<RawNode, E> {
        Ok(i64::try_from(value).map(RawNode::Int).unwrap_or(RawNode::Float(value as f64)))
    }
    fn visit_f64<E>(self, value: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(value))
    }
    fn visit_str<E>(self, value: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(value))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(RawNode::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values() {
        let text = "episode: demo\nbudget_usd: 15\nsegments:\n  - id: a\n";
        let root = parse(text).expect("valid yaml");
        let Value::Map(entries) = &root.value else { panic!("not a map") };
        let (key, value) = &entries[1];
        assert_eq!(&text[key.span.range()], "budget_usd");
        assert_eq!(&text[value.span.range()], "15");
        assert_eq!(value.value, Value::Int(15));
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let problem = parse("a: [1, 2\nb: 3\n").expect_err("unclosed bracket");
        assert!(problem.message.starts_with("invalid YAML"), "{}", problem.message);
        assert!(problem.span.is_some());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (name, prev) in
            ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            let refs = vec![format!("*{prev}"); 10].join(",");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        assert!(parse(&text).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&text).is_err());
    }

    #[test]
    fn empty_is_a_problem() {
        assert_eq!(parse("").expect_err("empty").code, "empty-manifest");
        assert_eq!(parse("# only a comment\n").expect_err("empty").code, "empty-manifest");
    }

    #[test]
    fn yes_is_a_string() {
        let root = parse("a: yes\n").expect("valid");
        let Value::Map(entries) = root.value else { panic!("not a map") };
        assert_eq!(entries[0].1.value, Value::Str("yes".into()));
    }
}
