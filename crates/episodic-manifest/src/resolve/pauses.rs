//! `pauses`: what counts as a pause where a recording longer than its model renders is cut, set
//! in `defaults` for every segment and on a segment for its own line. A segment's values override
//! the defaults' one by one; a value written nowhere is [`PauseRule::DEFAULT`]'s.

use super::Resolver;
use crate::manifest::{PausesEntry, SegmentEntry};
use crate::split::PauseRule;
use crate::{Problem, Span, Spanned};
use std::ops::RangeInclusive;

/// `quieter_than_db`, in dBFS. Below -90 no real recording has a pause: 16-bit audio's floor is
/// -96 dBFS, and dither, hiss and room tone sit above -90, so every line would be refused. Above
/// -10 the threshold is louder than spoken audio's average level (speech is mastered around
/// -16 to -23 LUFS), so most of the speech itself would count as a pause and be cut inside words.
pub(crate) const QUIETER_THAN_DB: RangeInclusive<f64> = -90.0..=-10.0;

/// `at_least_seconds`. Below 0.1 s the gaps inside words (a stop consonant's closure lasts 50 to
/// 100 ms) count as pauses, so a cut could split a word, and the crossfade (at least one frame,
/// 40 ms at 25 fps, from the cut to the pause's end) would spill out of the pause into speech.
/// Above 2 s hardly any spoken line has a pause at all, and `silencedetect` would find none.
pub(crate) const AT_LEAST_SECONDS: RangeInclusive<f64> = 0.1..=2.0;

/// A pause rule with where each of its values was written (`None`: the built-in default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pauses {
    /// The rule.
    pub(super) rule: PauseRule,
    /// Where `quieter_than_db` was written.
    pub(super) quieter_than_db: Option<Span>,
    /// Where `at_least_seconds` was written.
    pub(super) at_least_seconds: Option<Span>,
}

impl Pauses {
    pub(super) const DEFAULT: Pauses =
        Pauses { rule: PauseRule::DEFAULT, quieter_than_db: None, at_least_seconds: None };

    /// Where the rule was written, each value with a label, for a diagnostic's related spans.
    pub(super) fn written(&self) -> impl Iterator<Item = (Span, String)> {
        let db = self.quieter_than_db.map(|span| (span, "the pause level".to_owned()));
        let seconds = self.at_least_seconds.map(|span| (span, "the shortest pause".to_owned()));
        db.into_iter().chain(seconds)
    }
}

impl Resolver<'_> {
    /// `defaults.pauses` checked (each bad value reported once, here); `None` when a value is bad.
    pub(super) fn default_pauses(&mut self) -> Option<Pauses> {
        match &self.manifest.defaults.pauses {
            Some(entry) => checked(entry, Pauses::DEFAULT, self.problems),
            None => Some(Pauses::DEFAULT),
        }
    }

    /// The pause rule a segment's recording is cut at: its own `pauses` over `defaults` (checked
    /// by [`Resolver::default_pauses`], `defaults`), over the built-in rule. `None` when a value
    /// here or in the defaults is bad (reported).
    pub(super) fn segment_pauses(
        &mut self,
        entry: &SegmentEntry,
        defaults: Option<Pauses>,
    ) -> Option<Pauses> {
        let own = match &entry.pauses {
            Some(written) => checked(written, defaults.unwrap_or(Pauses::DEFAULT), self.problems),
            None => defaults,
        };
        defaults.and(own)
    }

    /// A segment's `pauses` that can have no effect: a b-roll, or a voiced `line:` (only recorded
    /// audio is cut).
    pub(super) fn unused_pauses(&mut self, entry: &SegmentEntry) {
        let Some(pauses) = &entry.pauses else { return };
        let what = match (&entry.broll, &entry.line) {
            (Some(_), _) => "a b-roll segment",
            (None, Some(_)) => "a voiced `line:`",
            (None, None) => return,
        };
        self.problems.push(
            Problem::warning("unused-pauses", format!("`pauses` has no effect on {what}"))
                .with_span(pauses.span, "not used")
                .with_help("only a recorded `audio:` file longer than its model renders is cut at its pauses: remove `pauses` here"),
        );
    }
}

/// A rule that counts more as a pause than `rule` (a shorter pause, louder room tone), each value
/// a step looser within its range, written as a manifest's `pauses`; `None` when `rule` is
/// already the loosest allowed.
pub(super) fn looser(rule: PauseRule) -> Option<String> {
    let seconds = ((rule.at_least_seconds - 0.1) * 100.0).round() / 100.0;
    let seconds = seconds.max(*AT_LEAST_SECONDS.start());
    let db = (rule.quieter_than_db + 5.0).round().min(*QUIETER_THAN_DB.end());
    let mut parts = Vec::new();
    if db > rule.quieter_than_db {
        parts.push(format!("quieter_than_db: {db}"));
    }
    if seconds < rule.at_least_seconds {
        parts.push(format!("at_least_seconds: {seconds}"));
    }
    (!parts.is_empty()).then(|| format!("{{ {} }}", parts.join(", ")))
}

/// `entry` over `base`, each value checked against its range.
fn checked(entry: &PausesEntry, base: Pauses, problems: &mut Vec<Problem>) -> Option<Pauses> {
    let mut pauses = base;
    let mut ok = true;
    if let Some(db) = &entry.quieter_than_db {
        if QUIETER_THAN_DB.contains(&db.value) {
            pauses.rule.quieter_than_db = db.value;
            pauses.quieter_than_db = Some(db.span);
        } else {
            problems.push(bad_db(db));
            ok = false;
        }
    }
    if let Some(seconds) = &entry.at_least_seconds {
        if AT_LEAST_SECONDS.contains(&seconds.value) {
            pauses.rule.at_least_seconds = seconds.value;
            pauses.at_least_seconds = Some(seconds.span);
        } else {
            problems.push(bad_seconds(seconds));
            ok = false;
        }
    }
    ok.then_some(pauses)
}

fn bad_db(db: &Spanned<f64>) -> Problem {
    let (low, high) = (QUIETER_THAN_DB.start(), QUIETER_THAN_DB.end());
    let help = if db.value > 0.0 && QUIETER_THAN_DB.contains(&-db.value) {
        format!("levels are below full scale, so negative: did you mean `quieter_than_db: -{}`?", db.value)
    } else {
        format!(
            "a pause is quieter than {low} to {high} dBFS (the default is {}): higher counts louder room tone as a pause",
            PauseRule::DEFAULT.quieter_than_db
        )
    };
    Problem::error("bad-pauses", format!("`quieter_than_db` is {}, outside {low} to {high} dB", db.value))
        .with_span(db.span, "out of range")
        .with_help(help)
}

fn bad_seconds(seconds: &Spanned<f64>) -> Problem {
    let (low, high) = (AT_LEAST_SECONDS.start(), AT_LEAST_SECONDS.end());
    Problem::error(
        "bad-pauses",
        format!("`at_least_seconds` is {}, outside {low} to {high} s", seconds.value),
    )
    .with_span(seconds.span, "out of range")
    .with_help(format!(
        "shorter than {low} s, gaps inside words would count as pauses; longer than {high} s, hardly a line has one (the default is {} s)",
        PauseRule::DEFAULT.at_least_seconds
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(db: Option<f64>, seconds: Option<f64>) -> PausesEntry {
        PausesEntry {
            span: Span::new(0, 0),
            quieter_than_db: db.map(|value| Spanned::new(value, Span::new(10, 3))),
            at_least_seconds: seconds.map(|value| Spanned::new(value, Span::new(20, 3))),
        }
    }

    fn read(text: &str) -> (crate::Manifest, Vec<Problem>) {
        let source =
            crate::ManifestSource { display_name: "episode.yaml".into(), text: text.to_owned().into() };
        let (manifest, problems) = crate::read(&source);
        (manifest.expect("parsed"), problems)
    }

    const SEGMENTS: &str =
        "cast: { host: { image: a.png } }\nsegments:\n  - id: a\n    speaker: host\n    audio: a.wav\n";

    #[test]
    fn pauses_are_read_from_defaults_and_from_a_segment() {
        let text = format!(
            "episode: e\ndefaults:\n  pauses: {{ quieter_than_db: -40, at_least_seconds: 0.25 }}\n{SEGMENTS}    pauses:\n      at_least_seconds: 0.2\n"
        );
        let (manifest, problems) = read(&text);
        assert!(problems.is_empty(), "{problems:?}");
        let defaults = manifest.defaults.pauses.expect("defaults.pauses");
        assert_eq!(defaults.quieter_than_db.map(|db| db.value), Some(-40.0));
        assert_eq!(defaults.at_least_seconds.map(|s| s.value), Some(0.25));
        let own = manifest.segments[0].pauses.as_ref().expect("the segment's pauses");
        assert_eq!(own.quieter_than_db, None, "left out: inherited");
        let seconds = own.at_least_seconds.as_ref().expect("at_least_seconds");
        assert_eq!(seconds.value, 0.2);
        assert_eq!(&text[seconds.span.range()], "0.2");
    }

    #[test]
    fn unknown_keys_and_wrong_types_in_pauses_are_reported() {
        let text =
            format!("episode: e\n{SEGMENTS}    pauses: {{ at_least_second: 0.2, quieter_than_db: loud }}\n");
        let (_, problems) = read(&text);
        let unknown = problems.iter().find(|p| p.code == "unknown-field").expect("unknown field");
        assert_eq!(unknown.message, "unknown field `at_least_second` in the `pauses` of segment `a`");
        assert_eq!(unknown.help.as_deref(), Some("did you mean `at_least_seconds`?"));
        let wrong = problems.iter().find(|p| p.code == "wrong-type").expect("wrong type");
        assert!(
            wrong.help.as_deref().is_some_and(|help| help.contains("`quieter_than_db: -35`")),
            "{wrong:?}"
        );
    }

    #[test]
    fn pauses_at_the_top_level_say_where_they_go() {
        let (_, problems) = read(&format!("episode: e\npauses: {{ at_least_seconds: 0.2 }}\n{SEGMENTS}"));
        let misplaced = problems.iter().find(|p| p.code == "unknown-field").expect("unknown field");
        assert!(
            misplaced.help.as_deref().is_some_and(|help| help.contains("goes under `defaults:`")),
            "{misplaced:?}"
        );
    }

    #[test]
    fn each_value_overrides_its_own_and_keeps_the_other() {
        let mut problems = Vec::new();
        let defaults = checked(&entry(Some(-40.0), None), Pauses::DEFAULT, &mut problems).unwrap();
        assert_eq!(defaults.rule, PauseRule { quieter_than_db: -40.0, at_least_seconds: 0.3 });
        let segment = checked(&entry(None, Some(0.2)), defaults, &mut problems).unwrap();
        assert_eq!(segment.rule, PauseRule { quieter_than_db: -40.0, at_least_seconds: 0.2 });
        assert_eq!(segment.written().count(), 2, "both values name where they were written");
        assert!(problems.is_empty());
    }

    #[test]
    fn the_edges_of_the_ranges_are_allowed() {
        let mut problems = Vec::new();
        for (db, seconds) in [(-90.0, 0.1), (-10.0, 2.0)] {
            assert!(checked(&entry(Some(db), Some(seconds)), Pauses::DEFAULT, &mut problems).is_some());
        }
        assert!(problems.is_empty());
    }

    #[test]
    fn out_of_range_values_are_refused_each_with_its_span() {
        let mut problems = Vec::new();
        assert!(checked(&entry(Some(-95.0), Some(0.05)), Pauses::DEFAULT, &mut problems).is_none());
        assert_eq!(problems.len(), 2);
        assert!(problems.iter().all(|problem| problem.code == "bad-pauses"), "{problems:?}");
        assert_eq!(problems[0].span.map(|span| span.offset), Some(10));
        assert_eq!(problems[1].span.map(|span| span.offset), Some(20));
    }

    #[test]
    fn a_looser_rule_is_a_step_looser_within_the_ranges() {
        assert_eq!(
            looser(PauseRule::DEFAULT).as_deref(),
            Some("{ quieter_than_db: -30, at_least_seconds: 0.2 }")
        );
        let loosest = PauseRule { quieter_than_db: -10.0, at_least_seconds: 0.1 };
        assert_eq!(looser(loosest), None);
        let short = PauseRule { quieter_than_db: -12.0, at_least_seconds: 0.15 };
        assert_eq!(looser(short).as_deref(), Some("{ quieter_than_db: -10, at_least_seconds: 0.1 }"));
    }

    #[test]
    fn a_positive_level_suggests_its_negative() {
        let mut problems = Vec::new();
        assert!(checked(&entry(Some(35.0), None), Pauses::DEFAULT, &mut problems).is_none());
        let help = problems[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("did you mean `quieter_than_db: -35`?"), "{help}");
    }
}
