//! Voices, lines and captions: a cast member's ElevenLabs voice checked against the catalog, a
//! segment's `line` checked against what ElevenLabs takes in one request and what the avatar
//! model renders, and the episode's `captions`.

use crate::episode::{Captions, Line, Voice, VoiceSettings};
use crate::manifest::{CaptionStyle, CaptionsEntry, VoiceEntry};
use crate::{Problem, Span, Spanned};
use episodic_catalog::{
    AudioLimits, DEFAULT_VOICE_MODEL, VOICE_MODELS, VoiceModel, VoiceSetting, billed_characters, closest,
    estimated_seconds, voice_model,
};

/// A cast member's voice, or `None` (reported) when it is unusable.
pub(crate) fn voice(entry: &VoiceEntry, member: &str, problems: &mut Vec<Problem>) -> Option<Voice> {
    let errors_before = problems.iter().filter(|p| p.is_error()).count();
    let id = entry.id.as_ref()?;
    let id_usable =
        !id.value.is_empty() && id.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !id_usable {
        problems.push(
            Problem::error("bad-voice-id", format!("`{}` cannot be an ElevenLabs voice id", id.value))
                .with_span(id.span, "not a voice id")
                .with_help("voice ids are letters and digits, like `aQspKon0UdKOuBZQQrEE`: copy it from the voice library"),
        );
    }
    let model = match &entry.model {
        None => voice_model(DEFAULT_VOICE_MODEL),
        Some(written) => {
            let found = voice_model(&written.value);
            if found.is_none() {
                let ids = VOICE_MODELS.iter().map(|model| model.id);
                let known: Vec<String> = ids.clone().map(|id| format!("`{id}`")).collect();
                let help = match closest(&written.value, ids) {
                    Some(id) => format!("did you mean `{id}`? the voice models are {}", known.join(", ")),
                    None => format!("the voice models are {}", known.join(", ")),
                };
                problems.push(
                    Problem::error(
                        "unknown-voice-model",
                        format!("there is no voice model `{}`", written.value),
                    )
                    .with_span(written.span, "unknown voice model")
                    .with_help(help),
                );
            }
            found
        }
    };
    let numbers = [
        (VoiceSetting::Stability, &entry.stability),
        (VoiceSetting::SimilarityBoost, &entry.similarity_boost),
        (VoiceSetting::Style, &entry.style),
        (VoiceSetting::Speed, &entry.speed),
    ];
    let mut out_of_range = Vec::new();
    for (setting, value) in numbers {
        let (Some(value), Some((low, high))) = (value, setting.range()) else { continue };
        if !(low..=high).contains(&value.value) {
            out_of_range.push(setting);
            let name = setting.as_str();
            problems.push(
                Problem::error(
                    "bad-voice-setting",
                    format!("`{name}` is {}, outside {low} to {high}", value.value),
                )
                .with_span(value.span, "out of range")
                .with_help(format!(
                    "ElevenLabs takes `{name}` from {low} to {high} and refuses anything else"
                )),
            );
        }
    }
    if let Some(model) = model {
        let spans = [
            (VoiceSetting::Stability, entry.stability.as_ref().map(|s| s.span)),
            (VoiceSetting::SimilarityBoost, entry.similarity_boost.as_ref().map(|s| s.span)),
            (VoiceSetting::Style, entry.style.as_ref().map(|s| s.span)),
            (VoiceSetting::UseSpeakerBoost, entry.use_speaker_boost.as_ref().map(|s| s.span)),
            (VoiceSetting::Speed, entry.speed.as_ref().map(|s| s.span)),
        ];
        for (setting, span) in spans {
            let Some(span) = span else { continue };
            // A value already refused needs no second word.
            if !model.honours.contains(&setting) && !out_of_range.contains(&setting) {
                let honoured: Vec<String> =
                    model.honours.iter().map(|s| format!("`{}`", s.as_str())).collect();
                problems.push(
                    Problem::warning(
                        "ignored-voice-setting",
                        format!("{} ignores `{}` (the voice of `{member}`)", model.id, setting.as_str()),
                    )
                    .with_span(span, "has no effect")
                    .with_help(format!(
                        "remove it; {} acts on {} only",
                        model.id,
                        honoured.join(", ")
                    )),
                );
            }
        }
    }
    let errors_after = problems.iter().filter(|p| p.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    Some(Voice {
        id: id.value.clone(),
        model: model?.id.to_owned(),
        settings: VoiceSettings {
            stability: entry.stability.as_ref().map(|s| s.value),
            similarity_boost: entry.similarity_boost.as_ref().map(|s| s.value),
            style: entry.style.as_ref().map(|s| s.value),
            use_speaker_boost: entry.use_speaker_boost.as_ref().map(|s| s.value),
            speed: entry.speed.as_ref().map(|s| s.value),
        },
    })
}

/// What a speaker without a voice gets for writing a line.
pub(crate) fn no_voice(line: &Spanned<String>, speaker: &Spanned<String>, member: Span) -> Problem {
    Problem::error("line-without-voice", format!("`{}` has no voice to speak this line", speaker.value))
        .with_span(line.span, "no voice for it")
        .with_related(member, "cast member without `voice`")
        .with_help(format!(
            "add `voice: <ElevenLabs voice id>` to `{}` in `cast`, or record the line and use `audio: <file>`",
            speaker.value
        ))
}

/// A line checked against its voice model's request limit and the avatar model's audio limits.
/// `longer_model` starts the help for a line over the cap with a model that renders it, if any.
///
/// A line over the cap is refused even when long lines are split: there is no audio to find the
/// pauses in until it is voiced, which happens at render time.
pub(crate) fn line(
    written: &Spanned<String>,
    voice: &Voice,
    avatar: &str,
    limits: &AudioLimits,
    longer_model: &dyn Fn(f64) -> String,
    problems: &mut Vec<Problem>,
) -> Option<Line> {
    let model: &VoiceModel = voice_model(&voice.model)?;
    let text = &written.value;
    if text.trim().is_empty() {
        problems.push(
            Problem::error("empty-line", "the line is empty")
                .with_span(written.span, "nothing to say")
                .with_help("write what the speaker says: `line: \"Welcome back!\"`"),
        );
        return None;
    }
    let characters = billed_characters(text);
    if characters > model.max_characters {
        problems.push(
            Problem::error(
                "line-too-long",
                format!(
                    "the line is {characters} characters; {} takes at most {} in one request",
                    model.id, model.max_characters
                ),
            )
            .with_span(written.span, format!("{characters} characters"))
            .with_help("split it into several segments at sentence ends, each a line of its own"),
        );
        return None;
    }
    let seconds = estimated_seconds(text);
    if seconds > limits.max_seconds {
        problems.push(
            Problem::error(
                "line-over-model-cap",
                format!(
                    "the line would last about {seconds:.0} s spoken, longer than {avatar} renders ({} s at most)",
                    limits.max_seconds
                ),
            )
            .with_span(written.span, format!("about {seconds:.0} s"))
            .with_help(format!(
                "{}split it into two segments at a pause, each a line of its own (a line is voiced at render time, too late to cut it at its pauses as a recorded `audio:` file is)",
                longer_model(seconds)
            )),
        );
        return None;
    }
    if seconds < limits.min_seconds {
        problems.push(
            Problem::warning(
                "line-may-be-short",
                format!(
                    "the line may last about {seconds:.1} s spoken; {avatar} needs at least {} s of speech",
                    limits.min_seconds
                ),
            )
            .with_span(written.span, format!("about {seconds:.1} s"))
            .with_help("if the render is refused as too short, merge the line with the next one"),
        );
    }
    if !model.audio_tags && text.contains('[') && text.contains(']') {
        problems.push(
            Problem::warning(
                "tags-read-aloud",
                format!("{} reads `[tags]` aloud; only eleven_v3 acts on them", model.id),
            )
            .with_span(written.span, "has a tag")
            .with_help("use `model: eleven_v3` for this voice, or remove the tags"),
        );
    }
    Some(Line {
        text: text.clone(),
        span: written.span,
        voice: voice.clone(),
        characters,
        estimated_seconds: seconds,
    })
}

/// `captions:` resolved, with defaults.
pub(crate) fn captions(entry: &CaptionsEntry, problems: &mut Vec<Problem>) -> Option<Captions> {
    let words_per_page = match &entry.words_per_page {
        None => Captions::DEFAULT_WORDS_PER_PAGE,
        Some(words) if words.value.fract() == 0.0 && (1.0..=6.0).contains(&words.value) => words.value as u8,
        Some(words) => {
            problems.push(
                Problem::error(
                    "bad-words-per-page",
                    format!("`words_per_page` is {}, not a whole number from 1 to 6", words.value),
                )
                .with_span(words.span, "out of range")
                .with_help(format!(
                    "short pages read best on a phone: the default is {}",
                    Captions::DEFAULT_WORDS_PER_PAGE
                )),
            );
            return None;
        }
    };
    Some(Captions {
        burn: entry.burn.as_ref().is_some_and(|burn| burn.value),
        style: entry.style.as_ref().map(|style| style.value).unwrap_or(CaptionStyle::Karaoke),
        words_per_page,
    })
}

#[cfg(test)]
mod tests {
    use crate::{ManifestSource, Problem, check_source};
    use episodic_catalog::Catalog;
    use episodic_media::{Probe, Tool};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    /// The problems of a manifest whose media cannot be found (so only the speech checks and the
    /// missing files are reported), without ffprobe.
    fn problems(text: &str) -> Vec<Problem> {
        let probe =
            Probe::new(Tool { name: "ffprobe", path: PathBuf::from("/nonexistent/episodic/ffprobe") });
        let source = ManifestSource { display_name: "episode.yaml".into(), text: Arc::new(text.to_owned()) };
        let path = Path::new("/nonexistent/episodic/episode.yaml");
        check_source(source, path, &Catalog::builtin(), &probe).problems
    }

    fn codes(text: &str) -> Vec<&'static str> {
        problems(text)
            .into_iter()
            .map(|problem| problem.code)
            .filter(|code| *code != "missing-file")
            .collect()
    }

    fn manifest(voice: &str, segment: &str) -> String {
        format!(
            "episode: e\ncast:\n  ninja:\n    image: ninja.png\n    {voice}\nsegments:\n  - id: s\n    speaker: ninja\n    {segment}\n"
        )
    }

    #[test]
    fn a_line_over_the_models_character_limit_is_refused_at_the_line() {
        let at_limit = format!("line: \"{}\"", "a".repeat(5_000));
        let over = format!("line: \"{}\"", "a".repeat(5_001));
        let limit_codes = codes(&manifest("voice: abc", &at_limit));
        assert!(!limit_codes.contains(&"line-too-long"), "{limit_codes:?}");
        let found = problems(&manifest("voice: abc", &over));
        let problem = found.iter().find(|problem| problem.code == "line-too-long").expect("refused");
        assert!(
            problem.message.contains("5001 characters") && problem.message.contains("5000"),
            "{}",
            problem.message
        );
        assert!(problem.help.as_deref().is_some_and(|help| help.contains("split")));
        assert!(problem.span.is_some_and(|span| span.len > 5_000), "points at the line");
        // multilingual v2 takes 10,000 characters a request (but the avatar caps the length first).
        let v2 = codes(&manifest("voice: { id: abc, model: eleven_multilingual_v2 }", &over));
        assert!(!v2.contains(&"line-too-long"), "{v2:?}");
    }

    #[test]
    fn lines_text_and_voices_are_checked() {
        let clean = codes(&manifest("voice: abc", "line: \"Hi there, and welcome back to the show.\""));
        assert!(clean.is_empty(), "{clean:?}");
        assert_eq!(
            codes(&manifest("preset: gaming-news", "line: \"Hi there, and welcome back to the show.\"")),
            ["line-without-voice"]
        );
        assert_eq!(codes(&manifest("voice: abc", "line: \"   \"")), ["empty-line"]);
        assert_eq!(
            codes(&manifest(
                "voice: abc",
                "line: \"Hi there, and welcome back to the show.\"\n    text: \"Hi\""
            )),
            ["text-with-line"]
        );
        assert_eq!(
            codes(&manifest("voice: \"not a voice\"", "line: \"Hi there, and welcome back to the show.\"")),
            ["bad-voice-id"]
        );
        assert_eq!(
            codes(&manifest(
                "voice: { model: eleven_v3 }",
                "line: \"Hi there, and welcome back to the show.\""
            )),
            ["missing-field"]
        );
        assert_eq!(
            codes(&manifest(
                "voice: { id: abc, model: eleven_flash_v2_5 }",
                "line: \"[laughs] Hi there, and welcome back to the show.\""
            )),
            ["tags-read-aloud"]
        );
        assert_eq!(
            codes(&manifest(
                "voice: { id: abc, speed: 2 }",
                "line: \"Hi there, and welcome back to the show.\""
            )),
            ["bad-voice-setting"]
        );
        assert_eq!(codes(&manifest("voice: abc", "line: \"Hi.\"")), ["line-may-be-short"]);
    }

    #[test]
    fn captions_default_to_karaoke_three_words_a_page_and_not_burned() {
        use crate::manifest::CaptionsEntry;
        let mut problems = Vec::new();
        let captions = super::captions(&CaptionsEntry::default(), &mut problems).expect("captions");
        assert!(!captions.burn);
        assert_eq!(captions.words_per_page, 3);
        assert_eq!(captions.style, crate::manifest::CaptionStyle::Karaoke);
        assert!(problems.is_empty());
    }
}
