//! From the manifest as written to an [`Episode`]: defaults, presets and models applied, names
//! cross-checked, media inspected. Every problem found is collected; nothing stops at the first.

use crate::episode::{Broll, CastMember, Dialogue, Episode, Listener, Segment, SegmentKind, Speech, Voice};
use crate::inputs::Inputs;
use crate::manifest::{Layout, Manifest, PromptSpec, Seat, SegmentEntry};
use crate::prompt::{self, AVATAR_NEGATIVE, VIDEO_NEGATIVE};
use crate::speech;
use crate::split::{PauseRule, SpeechPiece, Splitter};
use crate::{Problem, Span, Spanned};
use episodic_catalog::{AspectRatio, Catalog, DurationRule, Model, ModelKind, Preset, Tier, Usd, closest};
use episodic_media::Probe;
use std::collections::HashMap;
use std::path::Path;

mod chain;
mod pauses;

/// The highest `take:` a segment may ask for.
const MAX_TAKE: u32 = 1000;

/// "use `model: <name>` (up to N s), or " when an avatar model of the catalog renders speech of
/// this length, else nothing: the start of a help for speech longer than the model chosen.
pub(crate) fn longer_model_hint(catalog: &Catalog, seconds: f64) -> String {
    catalog
        .models()
        .iter()
        .filter(|other| other.kind == ModelKind::Avatar)
        .find(|other| other.audio.as_ref().is_some_and(|audio| audio.max_seconds >= seconds))
        .map(|other| format!("use `model: {}` (up to {} s), or ", other.name, other.duration.max_seconds()))
        .unwrap_or_default()
}

const GENERIC_LISTENER: &str = "Character listening attentively, subtle nodding, natural blinking";

/// Resolves a read manifest; returns the episode only when no error was found.
pub(crate) fn resolve(
    manifest: &Manifest,
    manifest_path: &Path,
    catalog: &Catalog,
    probe: &Probe,
    splitter: Option<&Splitter>,
    problems: &mut Vec<Problem>,
) -> Option<Episode> {
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    // Every file at once first: the checks below then ask one file at a time, from memory.
    let jobs = std::thread::available_parallelism().map_or(1, usize::from);
    probe.learn_all(&manifest.media_paths(base), jobs);
    let errors_before = problems.iter().filter(|p| p.is_error()).count();
    let mut resolver = Resolver {
        manifest,
        catalog,
        inputs: Inputs::new(base, probe),
        splitter,
        problems,
        voices: Vec::new(),
        default_pauses: Some(pauses::Pauses::DEFAULT),
    };

    let id = resolver.episode_id();
    let quality = manifest.quality.as_ref().map(|q| q.value).unwrap_or(Tier::Pro);
    let budget = resolver.budget();
    let output = resolver.output(base, id.as_deref());
    let cast = resolver.cast();
    let fallback_after = resolver.fallback_after();
    resolver.default_pauses = resolver.default_pauses();
    let segments = resolver.segments(&cast, quality);
    let captions = manifest.captions.as_ref().and_then(|entry| speech::captions(entry, resolver.problems));
    resolver.lint_cast(&cast, &segments);

    let errors_after = resolver.problems.iter().filter(|p| p.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    Some(Episode {
        id: id?,
        title: manifest.title.as_ref().map(|t| t.value.clone()),
        aspect_ratio: manifest.aspect_ratio.as_ref().map(|a| a.value).unwrap_or(AspectRatio::Landscape),
        quality,
        layout: manifest.layout.as_ref().map(|l| l.value).unwrap_or(Layout::SideBySide),
        budget,
        output: output?,
        manifest_path: manifest_path.to_path_buf(),
        cast: cast.into_iter().map(|(member, _)| member).collect::<Option<Vec<_>>>()?,
        segments,
        fallback_after,
        captions,
    })
}

struct Resolver<'a> {
    manifest: &'a Manifest,
    catalog: &'a Catalog,
    inputs: Inputs<'a>,
    splitter: Option<&'a Splitter>,
    problems: &'a mut Vec<Problem>,
    /// Each cast member's voice, by index in the manifest (`None`: none, or one already reported).
    voices: Vec<Option<Voice>>,
    /// `defaults.pauses` checked (`None`: a bad value, already reported).
    default_pauses: Option<pauses::Pauses>,
}

/// A cast member resolved (or not, when its image failed) and its index in the manifest.
type CastSlot = (Option<CastMember>, usize);

impl<'a> Resolver<'a> {
    fn episode_id(&mut self) -> Option<String> {
        let id = self.manifest.episode.as_ref()?;
        if !is_id(&id.value) {
            let suggestion = slug(&id.value);
            self.problems.push(
                Problem::error("bad-episode-id", format!("`{}` cannot be an episode id", id.value))
                    .with_span(id.span, "not an id")
                    .with_help(format!("ids use lowercase letters, digits, `-` and `_` (at most 64), because they name files: try `episode: {suggestion}` and put the words in `title:`")),
            );
            return None;
        }
        Some(id.value.clone())
    }

    fn budget(&mut self) -> Option<Spanned<Usd>> {
        let budget = self.manifest.budget_usd.as_ref()?;
        if budget.value <= 0.0 {
            self.problems.push(
                Problem::error("bad-budget", format!("`budget_usd` is {}, but a budget must be more than $0", budget.value))
                    .with_span(budget.span, "not a budget")
                    .with_help("give the most this episode may cost in dollars, e.g. `budget_usd: 15`, or remove the line for no cap"),
            );
            return None;
        }
        Some(Spanned::new(Usd::from_dollars(budget.value), budget.span))
    }

    fn output(&mut self, base: &Path, id: Option<&str>) -> Option<std::path::PathBuf> {
        match &self.manifest.output {
            Some(output) => {
                if !output.value.to_lowercase().ends_with(".mp4") {
                    self.problems.push(
                        Problem::error("bad-output", format!("`{}` is not an .mp4 path", output.value))
                            .with_span(output.span, "not .mp4")
                            .with_help("episodes are written as MP4 (H.264 + AAC): end the path in `.mp4`"),
                    );
                    return None;
                }
                Some(base.join(&output.value))
            }
            None => id.map(|id| base.join("out").join(format!("{id}.mp4"))),
        }
    }

    fn cast(&mut self) -> Vec<CastSlot> {
        let manifest = self.manifest;
        if manifest.cast.is_empty()
            && let Some(span) = manifest.cast_span
        {
            self.problems.push(
                Problem::error("empty-cast", "the cast is empty")
                    .with_span(span, "no characters")
                    .with_help("add at least one character: `ninja: { image: ninja.png }`"),
            );
        }
        let mut unseated = [Seat::Left, Seat::Right].into_iter().cycle();
        let limits = self.catalog.default_avatar(Tier::Pro).image.clone();
        manifest
            .cast
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                if let Some(preset) = &entry.preset
                    && Preset::get(&preset.value).is_none()
                {
                    let names = episodic_catalog::PRESETS.iter().map(|p| p.name);
                    let help = match closest(&preset.value, names) {
                        Some(name) => format!("did you mean `{name}`? `episodic presets` lists them"),
                        None => "`episodic presets` lists the presets".to_owned(),
                    };
                    self.problems.push(
                        Problem::error("unknown-preset", format!("there is no preset `{}`", preset.value))
                            .with_span(preset.span, "unknown preset")
                            .with_help(help),
                    );
                }
                let seat = match &entry.seat {
                    Some(seat) => seat.value,
                    None => unseated.next().unwrap_or(Seat::Left),
                };
                let voice = entry
                    .voice
                    .as_ref()
                    .and_then(|voice| speech::voice(voice, &entry.name.value, self.problems));
                self.voices.push(voice.clone());
                let role = format!("the image of `{}`", entry.name.value);
                let image = match (&entry.image, &limits) {
                    (Some(image), Some(limits)) => self.inputs.image(image, limits, &role, self.problems),
                    _ => None,
                };
                let member = image.map(|image| CastMember {
                    name: entry.name.value.clone(),
                    image,
                    seat,
                    preset: entry.preset.as_ref().map(|p| p.value.clone()),
                    voice,
                });
                (member, index)
            })
            .collect()
    }

    fn segments(&mut self, cast: &[CastSlot], quality: Tier) -> Vec<Segment> {
        let manifest = self.manifest;
        if manifest.segments.is_empty()
            && let Some(span) = manifest.segments_span
        {
            self.problems.push(
                Problem::error("no-segments", "the episode has no segments")
                    .with_span(span, "empty")
                    .with_help("add a segment: `- { id: intro, speaker: <cast member>, audio: intro.mp3 }`"),
            );
        }
        let mut first_use: HashMap<&str, Span> = HashMap::new();
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for entry in &manifest.segments {
            if let Some(id) = &entry.id
                && !is_id(&id.value)
            {
                self.problems.push(
                    Problem::error("bad-segment-id", format!("`{}` cannot be a segment id", id.value))
                        .with_span(id.span, "not an id")
                        .with_help(format!("segment ids name clips and files: lowercase letters, digits, `-` and `_`, e.g. `id: {}`", slug(&id.value))),
                );
            } else if let Some(id) = &entry.id {
                if let Some(first) = first_use.get(id.value.as_str()) {
                    self.problems.push(
                        Problem::error(
                            "duplicate-segment-id",
                            format!("two segments are called `{}`", id.value),
                        )
                        .with_span(id.span, "used again here")
                        .with_related(*first, "first used here")
                        .with_help(
                            "segment ids name clips in plans, reports and the state: make each unique",
                        ),
                    );
                } else {
                    first_use.insert(&id.value, id.span);
                }
            }
            let layout = entry
                .layout
                .as_ref()
                .or(manifest.layout.as_ref())
                .map(|l| l.value)
                .unwrap_or(Layout::SideBySide);
            let kind = match &entry.broll {
                Some(_) => self.broll(entry).map(SegmentKind::Broll),
                None => self.dialogue(entry, cast, quality, layout).map(SegmentKind::Dialogue),
            };
            let effective = match &kind {
                Some(SegmentKind::Dialogue(dialogue)) if dialogue.listener.is_none() => Layout::Solo,
                Some(SegmentKind::Broll(_)) => Layout::Solo,
                _ => layout,
            };
            let take = self.take(entry);
            self.unused_pauses(entry);
            if let (Some(kind), Some(id), Some(take)) = (kind, &entry.id, take) {
                segments.push(Segment {
                    id: id.value.clone(),
                    span: entry.span,
                    layout: effective,
                    kind,
                    take,
                });
            }
        }
        segments
    }

    /// `take: N`: a whole number from 1 (the first take, as if unset) to [`MAX_TAKE`].
    fn take(&mut self, entry: &SegmentEntry) -> Option<u32> {
        let Some(take) = &entry.take else { return Some(1) };
        if take.value.fract() == 0.0 && (1.0..=f64::from(MAX_TAKE)).contains(&take.value) {
            return Some(take.value as u32);
        }
        self.problems.push(
            Problem::error("bad-take", format!("`take: {}` is not a take number", take.value))
                .with_span(take.span, "not a whole number from 1")
                .with_help(format!(
                    "write `take: 2` for a second, fresh render of this segment's clips (1 to {MAX_TAKE}; 1 is the first take)"
                )),
        );
        None
    }

    fn dialogue(
        &mut self,
        entry: &SegmentEntry,
        cast: &[CastSlot],
        quality: Tier,
        layout: Layout,
    ) -> Option<Dialogue> {
        let manifest = self.manifest;
        let defaults = &manifest.defaults;
        let speaker = entry.speaker.as_ref().and_then(|name| self.cast_member(name, "speaker"));
        let listener = entry.listener.as_ref().and_then(|name| self.cast_member(name, "listener"));
        if let (Some(speaker_name), Some(listener_name)) = (&entry.speaker, &entry.listener)
            && speaker_name.value == listener_name.value
        {
            self.problems.push(
                Problem::error(
                    "speaker-is-listener",
                    format!("`{}` cannot listen to themself", listener_name.value),
                )
                .with_span(listener_name.span, "also the speaker")
                .with_related(speaker_name.span, "speaker")
                .with_help("name another cast member as `listener`, or remove the line for a solo shot"),
            );
        }

        let model_name = entry.model.as_ref().or(defaults.model.as_ref());
        let fallback = self.catalog.default_avatar(quality);
        let model = self.model(model_name, fallback, &[ModelKind::Avatar], "a speaking segment")?;
        let chain_written =
            if entry.model.is_some() { &entry.model_fallbacks } else { &defaults.model_fallbacks };
        let chain = self.fallbacks(model, chain_written, &[ModelKind::Avatar], "a speaking segment")?;
        let chain_limits = model.audio.as_ref().map(|first| chain::common_audio_limits(first, &chain));

        // Only a recorded file can be cut at its pauses here: a line has no audio until it is
        // voiced, so one longer than the chain renders is refused (see `speech::line`).
        let splittable =
            self.splitter.is_some() && matches!(model.duration, DurationRule::FollowsAudio { .. });
        let speech = match (&entry.line, &chain_limits) {
            (Some(line), Some(limits)) => {
                self.line(line, entry, &model.name, limits).map(|line| Speech::Line(Box::new(line)))
            }
            (None, Some(limits)) => entry
                .audio
                .as_ref()
                .and_then(|audio| self.inputs.audio(audio, limits, &model.name, splittable, self.problems))
                .map(|(file, seconds)| Speech::Audio { file, seconds }),
            _ => None,
        };
        // A bad value (reported) cuts nothing: a refusal under a rule the manifest did not mean
        // would only mislead.
        let pauses = self.segment_pauses(entry, self.default_pauses);
        let pieces = match (&entry.audio, &chain_limits, &speech, pauses) {
            (Some(written), Some(limits), Some(Speech::Audio { file, seconds }), Some(pauses))
                if *seconds > limits.max_seconds =>
            {
                Some(self.pieces(written, file, *seconds, limits, model, pauses)?)
            }
            _ => None,
        };
        let text = match (&speech, &entry.text) {
            (Some(Speech::Line(line)), _) => Some(line.text.clone()),
            (_, Some(text)) if !text.value.trim().is_empty() => Some(text.value.trim().to_owned()),
            _ => None,
        };

        let cfg_scale = entry.cfg_scale.as_ref().or(defaults.cfg_scale.as_ref());
        if let Some(cfg) = cfg_scale
            && !(0.0..=1.0).contains(&cfg.value)
        {
            self.problems.push(
                Problem::error("bad-cfg-scale", format!("`cfg_scale` is {}, outside 0 to 1", cfg.value))
                    .with_span(cfg.span, "out of range")
                    .with_help(
                        "classifier-free guidance runs from 0 (loose) to 1 (strict); the default is 0.5",
                    ),
            );
        }
        let speaker_prompt_spec = entry.prompt.as_ref();
        if let Some(spec) = speaker_prompt_spec {
            prompt::lint(spec, model.tier == Tier::Standard, self.problems);
        }

        let listener_model = match (&listener, layout) {
            (Some(_), Layout::Solo) => {
                if let Some(name) = &entry.listener {
                    self.problems.push(
                        Problem::warning("listener-in-solo", format!("`{}` is not shown: this segment's layout is solo", name.value))
                            .with_span(name.span, "not rendered")
                            .with_help("set `layout: side_by_side` or `stacked` to show the listener, or remove the line"),
                    );
                }
                None
            }
            (Some(_), _) => {
                let name = entry.listener_model.as_ref().or(defaults.listener_model.as_ref());
                let fallback = self.catalog.default_listener();
                let first = self.model(name, fallback, &[ModelKind::ImageToVideo], "a listener clip")?;
                let written = if entry.listener_model.is_some() {
                    &entry.listener_model_fallbacks
                } else {
                    &defaults.listener_model_fallbacks
                };
                let chain = self.fallbacks(first, written, &[ModelKind::ImageToVideo], "a listener clip")?;
                Some((first, chain))
            }
            (None, _) => None,
        };

        let (speaker_index, speaker_entry) = speaker?;
        let speaker_member = cast.iter().find(|(_, index)| *index == speaker_index)?.0.as_ref()?;
        let listener = match (listener, listener_model) {
            (Some((listener_index, _)), Some(listener_model)) => {
                let member = cast.iter().find(|(_, index)| *index == listener_index)?.0.as_ref()?;
                // A seat written wrong was reported already; its default would only invent a conflict.
                let seat_known =
                    |index: usize| !manifest.cast[index].seat_written || manifest.cast[index].seat.is_some();
                let seats_known = seat_known(speaker_index) && seat_known(listener_index);
                if speaker_index == listener_index {
                    return None;
                }
                if seats_known && member.seat == speaker_member.seat {
                    let mut problem = Problem::error(
                        "seat-conflict",
                        format!(
                            "`{}` and `{}` both sit on the {}",
                            speaker_member.name,
                            member.name,
                            member.seat.as_str()
                        ),
                    )
                    .with_span(
                        entry.listener.as_ref().map(|l| l.span).unwrap_or(entry.span),
                        "same seat as the speaker",
                    )
                    .with_help(
                        "give the two characters different seats in `cast` (`seat: left` and `seat: right`)",
                    );
                    for cast_entry in [&manifest.cast[speaker_index], &manifest.cast[listener_index]] {
                        if let Some(seat) = &cast_entry.seat {
                            problem = problem
                                .with_related(seat.span, format!("seat of `{}`", cast_entry.name.value));
                        }
                    }
                    self.problems.push(problem);
                    return None;
                }
                let listener_entry = &manifest.cast[listener_index];
                let preset = listener_entry.preset.as_ref().and_then(|p| Preset::get(&p.value));
                let base = entry
                    .listener_prompt
                    .as_ref()
                    .or(defaults.listener_prompt.as_ref())
                    .map(|p| p.value.clone())
                    .or_else(|| preset.map(|p| p.listener.to_owned()))
                    .unwrap_or_else(|| GENERIC_LISTENER.to_owned());
                let (listener_model, listener_chain) = listener_model;
                Some(Listener {
                    member: cast.iter().position(|(_, index)| *index == listener_index)?,
                    model: listener_model.name.clone(),
                    model_fallbacks: listener_chain.iter().map(|model| model.name.clone()).collect(),
                    prompt: prompt::listener_prompt(&base),
                    negative_prompt: prompt::listener_negative(VIDEO_NEGATIVE),
                })
            }
            _ => None,
        };

        let preset = speaker_entry.preset.as_ref().and_then(|p| Preset::get(&p.value));
        let base = speaker_entry
            .prompt
            .as_ref()
            .map(prompt::compose)
            .or_else(|| preset.map(|p| p.speaker.to_owned()))
            .or_else(|| defaults.prompt.as_ref().map(prompt::compose))
            .unwrap_or_default();
        let direction = speaker_prompt_spec.map(prompt::compose).unwrap_or_default();
        let negative = entry.negative_prompt.as_ref().or(defaults.negative_prompt.as_ref());
        let speaker_prompt = prompt::join_sentences([base.as_str(), direction.as_str()]);
        if speaker_prompt.is_empty()
            && let Some(needs) = std::iter::once(model)
                .chain(chain.iter().copied())
                .find(|m| m.arg("prompt").is_some_and(|arg| arg.required && arg.default.is_none()))
        {
            self.problems.push(
                Problem::error("missing-prompt", format!("{} needs a prompt, and this segment has none", needs.name))
                    .with_span(entry.span, "no prompt")
                    .with_help("add `prompt:` to the segment, its speaker or `defaults`, or pick a preset for the speaker"),
            );
            return None;
        }
        Some(Dialogue {
            speaker: cast.iter().position(|(_, index)| *index == speaker_index)?,
            speech: speech?,
            text,
            model: model.name.clone(),
            prompt: speaker_prompt,
            negative_prompt: negative.map(|n| n.value.clone()).unwrap_or_else(|| AVATAR_NEGATIVE.to_owned()),
            negative_prompt_explicit: negative.is_some(),
            cfg_scale: cfg_scale.map(|c| c.value),
            listener,
            pieces: pieces.unwrap_or_default(),
            pauses: pauses.map_or(PauseRule::DEFAULT, |pauses| pauses.rule),
            model_fallbacks: chain.iter().map(|model| model.name.clone()).collect(),
        })
    }

    /// A line longer than `model` renders, cut at its pauses (as `pauses` defines them); `None`
    /// (with the problem reported) when no pauses allow it.
    fn pieces(
        &mut self,
        written: &Spanned<String>,
        file: &crate::MediaFile,
        seconds: f64,
        limits: &episodic_catalog::AudioLimits,
        model: &Model,
        pauses: pauses::Pauses,
    ) -> Option<Vec<SpeechPiece>> {
        let splitter = self.splitter?;
        let rate = self.inputs.sample_rate(written);
        let rule = pauses.rule;
        match splitter.split(file, rate, limits, self.inputs.probe(), rule) {
            Ok(Ok(pieces)) => Some(pieces),
            Ok(Err(stretch)) => {
                let instead = longer_model_hint(self.catalog, seconds);
                let shown = crate::inputs::seconds_beside(seconds, limits.max_seconds);
                let which = if pauses.written().next().is_none() { "the default" } else { "this segment's" };
                let loosen = pauses::looser(rule)
                    .map(|looser| {
                        format!("loosen {which} pause rule (`pauses: {looser}` on the segment or in `defaults`), or ")
                    })
                    .unwrap_or_default();
                let mut problem = Problem::error(
                    "no-pause",
                    format!(
                        "`{}` lasts {shown} s, longer than {} renders ({} s at most), and has no pause ({rule}) to cut it at: the longest stretch without one runs from {:.2} s to {:.2} s ({:.2} s)",
                        written.value,
                        model.name,
                        limits.max_seconds,
                        stretch.from,
                        stretch.to,
                        stretch.to - stretch.from,
                    ),
                )
                .with_span(written.span, format!("{shown} s, no usable pause"))
                .with_help(format!(
                    "{instead}{loosen}record a pause ({rule}) every {} s or less, or split the line into segments",
                    limits.max_seconds
                ));
                for (span, label) in pauses.written() {
                    problem = problem.with_related(span, label);
                }
                self.problems.push(problem);
                None
            }
            Err(err) => {
                self.problems.push(
                    Problem::error(
                        "split-failed",
                        format!("`{}` could not be cut into pieces for {}: {err}", written.value, model.name),
                    )
                    .with_span(written.span, "not cut")
                    .with_help(err.help().unwrap_or_else(|| "check that ffmpeg can read the file".into())),
                );
                None
            }
        }
    }

    /// A segment's line, spoken by its speaker's voice.
    fn line(
        &mut self,
        written: &Spanned<String>,
        entry: &SegmentEntry,
        avatar: &str,
        limits: &episodic_catalog::AudioLimits,
    ) -> Option<crate::episode::Line> {
        let manifest = self.manifest;
        let speaker = entry.speaker.as_ref()?;
        let index = manifest.cast.iter().position(|member| member.name.value == speaker.value)?;
        let Some(voice) = self.voices.get(index).cloned().flatten() else {
            // A voice written but unusable was reported where it is written.
            if manifest.cast[index].voice.is_none() {
                self.problems.push(speech::no_voice(written, speaker, manifest.cast[index].name.span));
            }
            return None;
        };
        let longer = |seconds: f64| longer_model_hint(self.catalog, seconds);
        speech::line(written, &voice, avatar, limits, &longer, self.problems)
    }

    fn broll(&mut self, entry: &SegmentEntry) -> Option<Broll> {
        let broll = entry.broll.as_ref()?;
        let fallback = self.catalog.get("kling-o3-standard-t2v").unwrap_or(self.catalog.default_listener());
        let model = match &broll.model {
            Some(name) => self.model(
                Some(name),
                fallback,
                &[ModelKind::TextToVideo, ModelKind::ImageToVideo],
                "b-roll",
            )?,
            None => return None,
        };
        let chain = self.fallbacks(
            model,
            &broll.model_fallbacks,
            &[ModelKind::TextToVideo, ModelKind::ImageToVideo],
            "b-roll",
        )?;
        let duration = broll.duration.as_ref().and_then(|duration| {
            let whole = duration.value.fract() == 0.0
                && duration.value >= 0.0
                && duration.value <= f64::from(u32::MAX);
            let seconds = duration.value as u32;
            if whole && model.duration.allows(seconds) {
                return Some(seconds);
            }
            let allowed = match &model.duration {
                DurationRule::Choices { .. } | DurationRule::Range { .. } => model.duration.to_string(),
                DurationRule::FollowsAudio { .. } => "set by its audio".to_owned(),
            };
            self.problems.push(
                Problem::error("bad-duration", format!("{} cannot render {} s", model.name, duration.value))
                    .with_span(duration.span, "not allowed")
                    .with_help(format!("{} renders {allowed}", model.name)),
            );
            None
        });
        let image = match (model.kind, &broll.image) {
            (ModelKind::ImageToVideo, Some(image)) => {
                let limits = model.image.clone()?;
                Some(self.inputs.image(image, &limits, "the b-roll image", self.problems)?)
            }
            (ModelKind::ImageToVideo, None) => {
                self.problems.push(
                    Problem::error("missing-field", format!("{} animates an image, but this b-roll has no `image`", model.name))
                        .with_span(broll.model.as_ref().map(|m| m.span).unwrap_or(broll.span), "image-to-video")
                        .with_help("add `image: <path>` to the `broll` block, or use a text-to-video model such as `kling-o3-standard-t2v`"),
                );
                return None;
            }
            (_, Some(image)) => {
                self.problems.push(
                    Problem::error(
                        "unused-image",
                        format!("{} is text-to-video and takes no image", model.name),
                    )
                    .with_span(image.span, "ignored by this model")
                    .with_help("remove `image`, or use an image-to-video model such as `kling-i2v-v2.6-pro`"),
                );
                return None;
            }
            (_, None) => None,
        };
        if let Some(prompt) = &broll.prompt {
            prompt::lint(&PromptSpec::Text(prompt.clone()), false, self.problems);
        }
        let duration = duration?;
        if !self.fallbacks_render(&chain, &broll.model_fallbacks, duration) {
            return None;
        }
        Some(Broll {
            model: model.name.clone(),
            model_fallbacks: chain.iter().map(|model| model.name.clone()).collect(),
            prompt: broll.prompt.as_ref()?.value.trim().to_owned(),
            duration,
            image,
            generate_audio: broll.generate_audio.as_ref().map(|g| g.value).unwrap_or(false),
            negative_prompt: broll.negative_prompt.as_ref().map(|n| n.value.clone()),
        })
    }

    /// The model a manifest names, or the fallback; it must be of one of `kinds`.
    fn model(
        &mut self,
        written: Option<&Spanned<String>>,
        fallback: &'a Model,
        kinds: &[ModelKind],
        role: &str,
    ) -> Option<&'a Model> {
        let Some(written) = written else { return Some(fallback) };
        let catalog = self.catalog;
        let Some(model) = catalog.get(&written.value) else {
            let mut help = match closest(&written.value, catalog.names()) {
                Some(name) => format!("did you mean `{name}`? `episodic models` lists every model"),
                None => "`episodic models` lists every model".to_owned(),
            };
            if written.value.contains("avatar") && written.value.contains("v3") {
                help.push_str("; Kling has no avatar v3 (fal answers 404): the avatar is still v2");
            }
            self.problems.push(
                Problem::error("unknown-model", format!("there is no model `{}`", written.value))
                    .with_span(written.span, "unknown model")
                    .with_help(help),
            );
            return None;
        };
        if !kinds.contains(&model.kind) {
            let wanted: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
            self.problems.push(
                Problem::error(
                    "wrong-model-kind",
                    format!("`{}` is {} and cannot render {role}", written.value, model.kind),
                )
                .with_span(written.span, model.kind.as_str())
                .with_help(format!(
                    "{role} needs a model of kind {}; `episodic models` shows each model's kind",
                    wanted.join(" or ")
                )),
            );
            return None;
        }
        Some(model)
    }

    /// The index and entry of a named cast member, reporting an unknown name.
    fn cast_member(
        &mut self,
        name: &Spanned<String>,
        role: &str,
    ) -> Option<(usize, &'a crate::manifest::CastEntry)> {
        let manifest = self.manifest;
        if let Some(found) =
            manifest.cast.iter().enumerate().find(|(_, entry)| entry.name.value == name.value)
        {
            return Some(found);
        }
        // The cast is missing or malformed, which was reported; names cannot be checked.
        manifest.cast_span?;
        let names = manifest.cast.iter().map(|entry| entry.name.value.as_str());
        let help = match closest(&name.value, names.clone()) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => {
                let known: Vec<String> = names.map(|n| format!("`{n}`")).collect();
                if known.is_empty() {
                    "add them to `cast` first".to_owned()
                } else {
                    format!("the cast is {}", known.join(", "))
                }
            }
        };
        let mut problem =
            Problem::error("unknown-cast-member", format!("the {role} `{}` is not in the cast", name.value))
                .with_span(name.span, "not in the cast")
                .with_help(help);
        if let Some(span) = manifest.cast_span.filter(|span| span.len > 0) {
            problem = problem.with_related(Span::new(span.offset, 0), "cast defined here");
        }
        self.problems.push(problem);
        None
    }

    /// Lints cast prompts, and warns when a preset made for the Pro tier renders on Standard.
    fn lint_cast(&mut self, cast: &[CastSlot], segments: &[Segment]) {
        let manifest = self.manifest;
        for (slot, (_, index)) in cast.iter().enumerate() {
            let entry = &manifest.cast[*index];
            let speaks_on_standard = segments.iter().any(|segment| match &segment.kind {
                SegmentKind::Dialogue(dialogue) => {
                    dialogue.speaker == slot
                        && self.catalog.get(&dialogue.model).is_some_and(|m| m.tier == Tier::Standard)
                }
                SegmentKind::Broll(_) => false,
            });
            if let Some(spec) = &entry.prompt {
                prompt::lint(spec, speaks_on_standard, self.problems);
            } else if let Some(preset) = &entry.preset
                && speaks_on_standard
                && Preset::get(&preset.value).is_some_and(|p| p.needs_pro)
            {
                self.problems.push(
                    Problem::warning(
                        "preset-needs-pro",
                        format!("preset `{}` asks for expressiveness the standard tier lacks", preset.value),
                    )
                    .with_span(preset.span, "made for pro")
                    .with_help("render with `quality: pro` for the final cut; standard is fine for drafts"),
                );
            }
        }
        if let Some(spec) = &manifest.defaults.prompt {
            prompt::lint(spec, false, self.problems);
        }
    }
}

/// Ids name files and nodes: lowercase letters, digits, `-` and `_`, at most 64.
fn is_id(text: &str) -> bool {
    text.len() <= 64
        && text.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A best-effort id from a title: `Ninja News!` → `ninja-news`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() { "episode-1".to_owned() } else { out }
}
