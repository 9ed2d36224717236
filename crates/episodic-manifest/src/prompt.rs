//! Prompts: composing the four-part form, the listener's guard rails, and the notes' lint rules.

use crate::manifest::PromptSpec;
use crate::{Problem, Span, Spanned};

/// The avatar negative prompt: fal's default plus the notes' "stiff, robotic".
pub const AVATAR_NEGATIVE: &str = "blur, distort, low quality, stiff, robotic";
/// fal's default negative prompt for Kling video models.
pub const VIDEO_NEGATIVE: &str = "blur, distort, low quality";
/// What a listener clip must show, or an audio-free model invents lip movement.
pub const LISTENER_MUST: &str = "mouth closed";
/// What a listener clip must avoid.
pub const LISTENER_MUST_NOT: &str = "talking, speaking, mouth movement";

/// The prompt text of a spec: the four parts become sentences in the notes' order.
pub fn compose(spec: &PromptSpec) -> String {
    match spec {
        PromptSpec::Text(text) => text.value.trim().to_owned(),
        PromptSpec::Parts { subject, expression, movement, style, .. } => {
            let parts = [subject, expression, movement, style];
            join_sentences(parts.iter().filter_map(|part| part.as_ref().map(|part| part.value.as_str())))
        }
    }
}

/// Joins fragments into sentences, each ending in a full stop and starting with a capital.
pub fn join_sentences<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
        if !part.ends_with(['.', '!', '?']) {
            out.push('.');
        }
    }
    out
}

/// A listener prompt with "mouth closed" guaranteed.
pub fn listener_prompt(base: &str) -> String {
    if base.to_lowercase().contains(LISTENER_MUST) {
        base.trim().to_owned()
    } else {
        join_sentences([base, "Mouth closed"])
    }
}

/// A listener negative prompt with "talking, speaking, mouth movement" guaranteed.
pub fn listener_negative(base: &str) -> String {
    let lower = base.to_lowercase();
    let missing: Vec<&str> = LISTENER_MUST_NOT.split(", ").filter(|word| !lower.contains(word)).collect();
    let base = base.trim().trim_end_matches(',');
    match (base.is_empty(), missing.is_empty()) {
        (_, true) => base.to_owned(),
        (true, false) => missing.join(", "),
        (false, false) => format!("{base}, {}", missing.join(", ")),
    }
}

/// The places of the text a spec was written as, for lint spans.
pub(crate) fn pieces(spec: &PromptSpec) -> Vec<&Spanned<String>> {
    match spec {
        PromptSpec::Text(text) => vec![text],
        PromptSpec::Parts { subject, expression, movement, style, .. } => {
            [subject, expression, movement, style].into_iter().flatten().collect()
        }
    }
}

/// The span covering a whole spec.
pub(crate) fn span(spec: &PromptSpec) -> Span {
    match spec {
        PromptSpec::Text(text) => text.span,
        PromptSpec::Parts { span, .. } => *span,
    }
}

const VAGUE: &[&str] = &["good", "nice", "great", "cool", "okay", "ok", "fine", "normal", "awesome"];
const HAND_WORDS: &[&str] = &[
    "hand",
    "hands",
    "gesture",
    "gestures",
    "gesturing",
    "gesticulating",
    "waving",
    "wave",
    "waves",
    "pointing",
    "thumbs",
    "clapping",
    "fingers",
];
const HANDS_AWAY: &[&str] =
    &["hands below frame", "hands out of shot", "hands out of frame", "hands off screen", "no hands"];
const EXPRESSIVE: &[&str] =
    &["expressive", "micro-expressions", "led eyes", "lively", "enthusiastic", "emotes"];
const CONTRADICTIONS: &[(&[&str], &[&str])] = &[
    (
        &["serious", "solemn", "stern", "grave"],
        &["smiling", "smile", "smiles", "laughing", "cheerful", "playful", "grinning"],
    ),
    (
        &["still", "motionless", "static", "frozen"],
        &["lively", "energetic", "bouncing", "dancing", "nodding"],
    ),
    (&["sad", "somber", "gloomy"], &["happy", "joyful", "cheerful", "excited"]),
    (&["calm", "relaxed"], &["frantic", "hyper", "manic"]),
];

/// The notes' "prompt mistakes to avoid", as warnings on one written prompt.
pub(crate) fn lint(spec: &PromptSpec, standard_tier: bool, problems: &mut Vec<Problem>) {
    let text = compose(spec);
    let words = words(&text);
    let span = span(spec);

    let aspects = match spec {
        PromptSpec::Parts { .. } => pieces(spec).len(),
        PromptSpec::Text(_) => aspect_count(&text),
    };
    if aspects > 5 {
        problems.push(
            Problem::warning(
                "prompt-too-many-aspects",
                format!("this prompt asks for {aspects} things at once"),
            )
            .with_span(span, "over-specified")
            .with_help(
                "the notes advise 3-5 aspects per prompt; models follow fewer instructions more faithfully",
            ),
        );
    }

    for piece in pieces(spec) {
        let lower = piece.value.to_lowercase();
        for word in words_of(&lower) {
            if VAGUE.contains(&word) {
                problems.push(
                    Problem::warning(
                        "prompt-vague",
                        format!("`{word}` is too vague to direct a performance"),
                    )
                    .with_span(sub_span(piece, &lower, word), "vague")
                    .with_help("say what you mean: `professional`, `enthusiastic`, `contemplative`, ..."),
                );
            }
        }
        let hands_away = HANDS_AWAY.iter().any(|phrase| lower.contains(phrase));
        if !hands_away && let Some(word) = words_of(&lower).find(|word| HAND_WORDS.contains(word)) {
            problems.push(
                Problem::warning("prompt-hands", "hand gestures render unreliably and often distorted")
                    .with_span(sub_span(piece, &lower, word), "hands")
                    .with_help("keep hands out of the shot: say `hands below frame` instead"),
            );
        }
    }

    for (one, other) in CONTRADICTIONS {
        let first = words.iter().find(|word| one.contains(&word.as_str()));
        let second = words.iter().find(|word| other.contains(&word.as_str()));
        if let (Some(first), Some(second)) = (first, second) {
            problems.push(
                Problem::warning(
                    "prompt-contradiction",
                    format!("`{first}` and `{second}` pull in opposite directions"),
                )
                .with_span(span, "contradictory")
                .with_help("pick one, or say when each happens: `begin serious, smile at the punchline`"),
            );
        }
    }

    if standard_tier && let Some(word) = EXPRESSIVE.iter().find(|word| text.to_lowercase().contains(*word)) {
        problems.push(
            Problem::warning(
                "prompt-needs-pro",
                format!("`{word}`: the standard tier lacks the expressiveness this prompt asks for"),
            )
            .with_span(span, "expressiveness prompt")
            .with_help(
                "render with `quality: pro` (or a pro model), or keep this prompt for the final render only",
            ),
        );
    }
}

/// Clauses separated by sentence ends or commas; one that starts with "and" continues the last.
fn aspect_count(text: &str) -> usize {
    text.split(['.', ';', '!', '?', ','])
        .map(str::trim)
        .filter(|clause| !clause.is_empty() && !clause.to_lowercase().starts_with("and "))
        .count()
}

fn words(text: &str) -> Vec<String> {
    words_of(&text.to_lowercase()).map(str::to_owned).collect()
}

fn words_of(lower: &str) -> impl Iterator<Item = &str> {
    lower.split(|c: char| !(c.is_alphanumeric() || c == '-')).filter(|word| !word.is_empty())
}

/// The span of `word` inside a written piece, when the YAML text is a plain copy of it.
fn sub_span(piece: &Spanned<String>, lower: &str, word: &str) -> Span {
    let found = lower.match_indices(word).find(|(at, _)| {
        let before = lower[..*at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    });
    match found {
        // A quoted scalar's span starts at the quote; a plain one at the text.
        Some((at, _)) if piece.span.len >= piece.value.len() => {
            let quote = piece.span.len.saturating_sub(piece.value.len()) / 2;
            Span::new(piece.span.offset + quote + at, word.len())
        }
        _ => piece.span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> PromptSpec {
        PromptSpec::Text(Spanned::new(value.to_owned(), Span::new(0, value.len())))
    }

    fn codes(spec: &PromptSpec, standard: bool) -> Vec<&'static str> {
        let mut problems = Vec::new();
        lint(spec, standard, &mut problems);
        problems.iter().map(|problem| problem.code).collect()
    }

    #[test]
    fn four_parts_compose_in_order() {
        let part = |v: &str| Some(Spanned::new(v.to_owned(), Span::new(0, 0)));
        let spec = PromptSpec::Parts {
            subject: part("animated ninja at a news desk"),
            expression: part("friendly, engaging"),
            movement: None,
            style: part("preserve the 3D render quality."),
            span: Span::new(0, 0),
        };
        assert_eq!(
            compose(&spec),
            "Animated ninja at a news desk. Friendly, engaging. Preserve the 3D render quality."
        );
    }

    #[test]
    fn listener_guard_rails() {
        assert_eq!(listener_prompt("Listening attentively"), "Listening attentively. Mouth closed.");
        assert_eq!(listener_prompt("Mouth closed, nodding"), "Mouth closed, nodding");
        assert_eq!(listener_negative("blur, distort"), "blur, distort, talking, speaking, mouth movement");
        assert_eq!(listener_negative("talking"), "talking, speaking, mouth movement");
        assert_eq!(listener_negative(""), "talking, speaking, mouth movement");
    }

    #[test]
    fn lints() {
        assert_eq!(codes(&text("A good, nice presenter"), false), ["prompt-vague", "prompt-vague"]);
        assert_eq!(codes(&text("Presenter waving hands"), false), ["prompt-hands"]);
        assert!(codes(&text("Presenter, hands below frame"), false).is_empty());
        assert_eq!(codes(&text("Serious anchor, frequent smiling"), false), ["prompt-contradiction"]);
        assert_eq!(codes(&text("A. B. C. D. E. F."), false), ["prompt-too-many-aspects"]);
        assert_eq!(
            codes(&text("Excited, blinking, eyebrows raised, head tilts, nodding, leaning in"), false),
            ["prompt-too-many-aspects"]
        );
        let proven = episodic_catalog::Preset::get("gaming-news").map(|p| p.speaker).unwrap_or_default();
        assert_eq!(aspect_count(proven), 5, "the notes' proven prompt is within their own advice");
        assert_eq!(codes(&text("Expressive digital LED eyes"), true), ["prompt-needs-pro"]);
        assert!(codes(&text("Expressive digital LED eyes"), false).is_empty());
        assert!(codes(&text("Begin neutral, widen eyes with excitement at the headline."), false).is_empty());
        assert!(codes(&text("Goodness, a goodbye"), false).is_empty());
    }

    #[test]
    fn vague_word_span_points_inside_a_quoted_string() {
        let yaml = "prompt: \"a nice host\"";
        let spec = PromptSpec::Text(Spanned::new("a nice host".into(), Span::new(8, 13)));
        let mut problems = Vec::new();
        lint(&spec, false, &mut problems);
        let span = problems[0].span.expect("span");
        assert_eq!(&yaml[span.range()], "nice");
    }
}
