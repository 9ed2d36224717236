//! Fallback chains: `model: [first, second, …]`. Every model of a chain is checked up front, as
//! if it were the only one, so a fallback can never be refused for the input: it is of the same
//! kind, takes the same files, and renders the same lengths. A speech line is checked against the
//! tightest limits of the whole chain (and cut into pieces by them when it is too long for one).

use super::Resolver;
use crate::{Problem, Spanned};
use episodic_catalog::{AudioLimits, DurationRule, Model, ModelKind};

/// How many failed renders on one model of a chain make the next take over, unless
/// `defaults.fallback_after` says otherwise.
pub(crate) const FALLBACK_AFTER: u32 = 2;

impl<'a> Resolver<'a> {
    /// The models after the first of a chain, each known and of the first's kind (`kinds` for
    /// the role); the ones that are not are reported.
    pub(super) fn fallbacks(
        &mut self,
        first: &Model,
        written: &[Spanned<String>],
        kinds: &[ModelKind],
        role: &str,
    ) -> Option<Vec<&'a Model>> {
        let mut chain: Vec<&'a Model> = Vec::with_capacity(written.len());
        let mut ok = true;
        for name in written {
            let Some(model) = self.model(Some(name), first_or_any(self.catalog, first), kinds, role) else {
                ok = false;
                continue;
            };
            if model.name == first.name || chain.iter().any(|seen| seen.name == model.name) {
                self.problems.push(
                    Problem::error(
                        "repeated-fallback",
                        format!("`{}` is named twice in one model chain", model.name),
                    )
                    .with_span(name.span, "already in the chain")
                    .with_help("each model of a chain is tried once, in order: name it once"),
                );
                ok = false;
                continue;
            }
            if model.kind != first.kind {
                self.problems.push(
                    Problem::error(
                        "fallback-kind",
                        format!("`{}` is {}, but the chain starts with {} ({})", model.name, model.kind, first.name, first.kind),
                    )
                    .with_span(name.span, model.kind.as_str())
                    .with_help("a fallback takes the same inputs as the model it replaces: pick one of the same kind (`episodic models`)"),
                );
                ok = false;
                continue;
            }
            chain.push(model);
        }
        ok.then_some(chain)
    }

    /// Each fallback of a b-roll must render its `seconds`.
    pub(super) fn fallbacks_render(
        &mut self,
        chain: &[&Model],
        written: &[Spanned<String>],
        seconds: u32,
    ) -> bool {
        let mut ok = true;
        for (model, name) in chain.iter().zip(written) {
            if !model.duration.allows(seconds) {
                let allowed = match &model.duration {
                    DurationRule::FollowsAudio { .. } => "lengths set by its audio".to_owned(),
                    rule => rule.to_string(),
                };
                self.problems.push(
                    Problem::error(
                        "bad-duration",
                        format!("{} (a fallback) cannot render {seconds} s", model.name),
                    )
                    .with_span(name.span, "not allowed")
                    .with_help(format!(
                        "{} renders {allowed}: pick a duration every model of the chain renders",
                        model.name
                    )),
                );
                ok = false;
            }
        }
        ok
    }

    /// `defaults.fallback_after`: a whole number from 1 to 10.
    pub(super) fn fallback_after(&mut self) -> u32 {
        let Some(written) = &self.manifest.defaults.fallback_after else { return FALLBACK_AFTER };
        let value = written.value;
        if value.fract() == 0.0 && (1.0..=10.0).contains(&value) {
            return value as u32;
        }
        self.problems.push(
            Problem::error(
                "bad-fallback-after",
                format!("`fallback_after` is {value}; it counts failed renders"),
            )
            .with_span(written.span, "not 1 to 10")
            .with_help(format!("a whole number from 1 to 10 (the default is {FALLBACK_AFTER})")),
        );
        FALLBACK_AFTER
    }
}

fn first_or_any<'a>(catalog: &'a episodic_catalog::Catalog, first: &Model) -> &'a Model {
    catalog.get(&first.name).unwrap_or_else(|| catalog.default_listener())
}

/// The limits every model of a chain accepts: the formats all take, the smallest size and cap,
/// the largest minimum.
pub(crate) fn common_audio_limits(first: &AudioLimits, rest: &[&Model]) -> AudioLimits {
    let mut limits = first.clone();
    for model in rest {
        let Some(audio) = &model.audio else { continue };
        limits.formats.retain(|format| audio.formats.contains(format));
        limits.max_bytes = limits.max_bytes.min(audio.max_bytes);
        limits.min_seconds = limits.min_seconds.max(audio.min_seconds);
        limits.max_seconds = limits.max_seconds.min(audio.max_seconds);
    }
    limits
}
