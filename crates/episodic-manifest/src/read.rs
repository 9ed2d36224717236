//! Walks the YAML tree into a [`Manifest`], collecting every schema problem in one pass.

use crate::manifest::{
    BrollEntry, CaptionStyle, CaptionsEntry, CastEntry, Defaults, Layout, Manifest, PausesEntry, PromptSpec,
    Seat, SegmentEntry, VoiceEntry,
};
use crate::yaml::{Node, Value};
use crate::{Problem, Span, Spanned};
use episodic_catalog::{AspectRatio, Tier, closest};

const TOP_KEYS: &[&str] = &[
    "episode",
    "title",
    "aspect_ratio",
    "quality",
    "layout",
    "budget_usd",
    "output",
    "defaults",
    "cast",
    "segments",
    "captions",
];
const DEFAULTS_KEYS: &[&str] = &[
    "model",
    "listener_model",
    "prompt",
    "negative_prompt",
    "listener_prompt",
    "cfg_scale",
    "fallback_after",
    "pauses",
];
const CAST_KEYS: &[&str] = &["image", "seat", "preset", "prompt", "voice"];
const VOICE_KEYS: &[&str] =
    &["id", "model", "stability", "similarity_boost", "style", "use_speaker_boost", "speed"];
const CAPTIONS_KEYS: &[&str] = &["burn", "style", "words_per_page"];
const SEGMENT_KEYS: &[&str] = &[
    "id",
    "speaker",
    "audio",
    "line",
    "text",
    "listener",
    "prompt",
    "negative_prompt",
    "listener_prompt",
    "cfg_scale",
    "model",
    "listener_model",
    "layout",
    "broll",
    "take",
    "pauses",
];
const BROLL_KEYS: &[&str] = &["model", "prompt", "duration", "image", "generate_audio", "negative_prompt"];
const PROMPT_KEYS: &[&str] = &["subject", "expression", "movement", "style"];
const PAUSES_KEYS: &[&str] = &["quieter_than_db", "at_least_seconds"];

/// Keys written where they do not belong, with where they go instead: the "did you mean" for a
/// key that is right but misplaced.
const MISPLACED: &[(&str, &str)] = &[(
    "pauses",
    "`pauses` goes under `defaults:` (for every segment) or on a segment: `defaults: { pauses: { at_least_seconds: 0.2 } }`",
)];

/// Reads the whole manifest; problems are appended to `problems`.
pub(crate) fn read(root: &Node, problems: &mut Vec<Problem>) -> Manifest {
    let mut reader = Reader { problems };
    reader.manifest(root)
}

struct Reader<'p> {
    problems: &'p mut Vec<Problem>,
}

/// The entries of one mapping, with the keys already taken.
struct Fields<'a> {
    entries: &'a [(Node, Node)],
    span: Span,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.iter().find(|(name, _)| name.value == Value::Str(key.to_owned())).map(|(_, value)| value)
    }

    /// Where to point when a required key is missing: the mapping, or its first key.
    fn anchor(&self) -> Span {
        match self.entries.first() {
            Some((key, _)) if self.span.len == 0 => key.span,
            _ => self.span,
        }
    }
}

impl Reader<'_> {
    fn manifest(&mut self, root: &Node) -> Manifest {
        let Some(fields) = self.fields(root, "the manifest", TOP_KEYS, None) else {
            return Manifest::default();
        };
        let mut manifest = Manifest {
            episode: self.required(&fields, "episode", "the manifest", |r, n| r.string(n, "episode")),
            title: fields.get("title").and_then(|n| self.string(n, "title")),
            aspect_ratio: fields.get("aspect_ratio").and_then(|n| self.aspect_ratio(n)),
            quality: fields
                .get("quality")
                .and_then(|n| self.choice(n, "quality", &[("pro", Tier::Pro), ("standard", Tier::Standard)])),
            layout: fields.get("layout").and_then(|n| self.layout(n)),
            budget_usd: fields.get("budget_usd").and_then(|n| self.number(n, "budget_usd")),
            output: fields.get("output").and_then(|n| self.string(n, "output")),
            ..Manifest::default()
        };
        if let Some(node) = fields.get("defaults") {
            manifest.defaults = self.defaults(node);
        }
        manifest.captions = fields.get("captions").and_then(|node| self.captions(node));
        match fields.get("cast") {
            Some(node) => {
                // Only a well-formed cast counts: a broken one was reported, and names cannot be checked against it.
                if matches!(node.value, Value::Map(_)) {
                    manifest.cast_span = Some(node.span);
                }
                manifest.cast = self.cast(node);
            }
            None => self.missing(
                &fields,
                "cast",
                "the manifest",
                "add a `cast:` mapping of characters, each with an `image`",
            ),
        }
        match fields.get("segments") {
            Some(node) => {
                if matches!(node.value, Value::Seq(_)) {
                    manifest.segments_span = Some(node.span);
                }
                manifest.segments = self.segments(node);
            }
            None => self.missing(
                &fields,
                "segments",
                "the manifest",
                "add a `segments:` list; each segment has an `id`, a `speaker` and its `audio`",
            ),
        }
        manifest
    }

    fn defaults(&mut self, node: &Node) -> Defaults {
        let Some(fields) = self.fields(node, "`defaults`", DEFAULTS_KEYS, None) else {
            return Defaults::default();
        };
        let (model, model_fallbacks) = self.model_chain(fields.get("model"), "model");
        let (listener_model, listener_model_fallbacks) =
            self.model_chain(fields.get("listener_model"), "listener_model");
        Defaults {
            model,
            listener_model,
            model_fallbacks,
            listener_model_fallbacks,
            fallback_after: fields.get("fallback_after").and_then(|n| self.number(n, "fallback_after")),
            prompt: fields.get("prompt").and_then(|n| self.prompt(n, "prompt")),
            negative_prompt: fields.get("negative_prompt").and_then(|n| self.string(n, "negative_prompt")),
            listener_prompt: fields.get("listener_prompt").and_then(|n| self.string(n, "listener_prompt")),
            cfg_scale: fields.get("cfg_scale").and_then(|n| self.number(n, "cfg_scale")),
            pauses: fields.get("pauses").and_then(|n| self.pauses(n, "`defaults`")),
        }
    }

    fn cast(&mut self, node: &Node) -> Vec<CastEntry> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(
                node,
                "cast",
                "a mapping of names to characters",
                "write `cast:` then one indented `name:` per character, each with an `image:`",
            );
            return Vec::new();
        };
        let mut cast = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Value::Str(name) = &key.value else { continue };
            let name = Spanned::new(name.clone(), key.span);
            let context = format!("cast member `{}`", name.value);
            let Some(fields) = self.fields(value, &context, CAST_KEYS, Some(key.span)) else { continue };
            cast.push(CastEntry {
                image: self.required(&fields, "image", &context, |r, n| r.string(n, "image")),
                seat: fields.get("seat").and_then(|n| self.seat(n)),
                seat_written: fields.get("seat").is_some(),
                preset: fields.get("preset").and_then(|n| self.string(n, "preset")),
                prompt: fields.get("prompt").and_then(|n| self.prompt(n, "prompt")),
                voice: fields.get("voice").and_then(|n| self.voice(n, &context)),
                name,
            });
        }
        cast
    }

    fn segments(&mut self, node: &Node) -> Vec<SegmentEntry> {
        let Value::Seq(items) = &node.value else {
            self.wrong_type(
                node,
                "segments",
                "a list",
                "write each segment as a list item starting with `- id: ...`",
            );
            return Vec::new();
        };
        items.iter().enumerate().filter_map(|(index, item)| self.segment(index, item)).collect()
    }

    fn segment(&mut self, index: usize, node: &Node) -> Option<SegmentEntry> {
        let context = match written_id(node) {
            Some(id) => format!("segment `{id}`"),
            None => format!("segment {}", index + 1),
        };
        let fields = self.fields(node, &context, SEGMENT_KEYS, None)?;
        let mut segment = SegmentEntry {
            span: fields.anchor(),
            id: self.required(&fields, "id", &context, |r, n| r.identifier(n, "id")),
            listener: fields.get("listener").and_then(|n| self.string(n, "listener")),
            prompt: fields.get("prompt").and_then(|n| self.prompt(n, "prompt")),
            negative_prompt: fields.get("negative_prompt").and_then(|n| self.string(n, "negative_prompt")),
            listener_prompt: fields.get("listener_prompt").and_then(|n| self.string(n, "listener_prompt")),
            cfg_scale: fields.get("cfg_scale").and_then(|n| self.number(n, "cfg_scale")),
            layout: fields.get("layout").and_then(|n| self.layout(n)),
            take: fields.get("take").and_then(|n| self.number(n, "take")),
            pauses: fields.get("pauses").and_then(|n| self.pauses(n, &context)),
            ..SegmentEntry::default()
        };
        (segment.model, segment.model_fallbacks) = self.model_chain(fields.get("model"), "model");
        (segment.listener_model, segment.listener_model_fallbacks) =
            self.model_chain(fields.get("listener_model"), "listener_model");
        if let Some(broll) = fields.get("broll") {
            segment.broll = self.broll(broll, &context);
            for key in ["speaker", "audio", "line", "text", "listener"] {
                if let Some(node) = fields.get(key) {
                    self.problems.push(
                        Problem::error("broll-with-speech", format!("{context} has both `broll` and `{key}`"))
                            .with_span(node.span, format!("`{key}` here"))
                            .with_related(broll.span, "`broll` here")
                            .with_help("a segment is either speech (speaker + audio) or b-roll: split it into two segments"),
                    );
                }
            }
        } else if fields.get("speaker").is_none()
            && fields.get("audio").is_none()
            && fields.get("line").is_none()
        {
            self.problems.push(
                Problem::error("empty-segment", format!("{context} has neither a `speaker` with `audio` nor a `broll` block"))
                    .with_span(fields.anchor(), "nothing to show")
                    .with_help("add `speaker: <cast member>` and `audio: <file>` (or `line: \"what they say\"`), or a `broll:` block with a model, prompt and duration"),
            );
        } else {
            segment.speaker = self.required(&fields, "speaker", &context, |r, n| r.string(n, "speaker"));
            match (fields.get("audio"), fields.get("line")) {
                (Some(audio), Some(line)) => self.problems.push(
                    Problem::error("audio-and-line", format!("{context} has both `audio` and `line`"))
                        .with_span(line.span, "`line` here")
                        .with_related(audio.span, "`audio` here")
                        .with_help("a segment speaks either a recorded file (`audio`) or a line voiced by ElevenLabs (`line`): keep one"),
                ),
                (None, Some(line)) => {
                    segment.line = self.string(line, "line");
                    if let Some(text) = fields.get("text") {
                        self.problems.push(
                            Problem::error("text-with-line", format!("{context} has both `line` and `text`"))
                                .with_span(text.span, "`text` here")
                                .with_related(line.span, "`line` here")
                                .with_help("the line is what is said, and its captions: remove `text` (it is for `audio` segments)"),
                        );
                    }
                }
                _ => {
                    segment.audio = self.required(&fields, "audio", &context, |r, n| r.string(n, "audio"));
                    segment.text = fields.get("text").and_then(|n| self.string(n, "text"));
                }
            }
        }
        Some(segment)
    }

    fn broll(&mut self, node: &Node, segment: &str) -> Option<BrollEntry> {
        let context = format!("the `broll` of {segment}");
        let fields = self.fields(node, &context, BROLL_KEYS, None)?;
        let model = self.required(&fields, "model", &context, |r, n| Some(r.model_chain(Some(n), "model")));
        let (model, model_fallbacks) = model.unwrap_or_default();
        Some(BrollEntry {
            span: fields.anchor(),
            model,
            model_fallbacks,
            prompt: self.required(&fields, "prompt", &context, |r, n| r.string(n, "prompt")),
            duration: self.required(&fields, "duration", &context, |r, n| r.number(n, "duration")),
            image: fields.get("image").and_then(|n| self.string(n, "image")),
            generate_audio: fields.get("generate_audio").and_then(|n| self.boolean(n, "generate_audio")),
            negative_prompt: fields.get("negative_prompt").and_then(|n| self.string(n, "negative_prompt")),
        })
    }

    /// `voice: <id>` or `voice: { id, model, settings... }`.
    fn voice(&mut self, node: &Node, member: &str) -> Option<VoiceEntry> {
        if let Value::Str(id) = &node.value {
            return Some(VoiceEntry {
                span: node.span,
                id: Some(Spanned::new(id.clone(), node.span)),
                ..VoiceEntry::default()
            });
        }
        if !matches!(node.value, Value::Map(_)) {
            self.wrong_type(
                node,
                "voice",
                "a voice id or a mapping with `id`",
                "write `voice: <ElevenLabs voice id>`, or `voice: { id: <voice id>, stability: 0.5 }`",
            );
            return None;
        }
        let context = format!("the `voice` of {member}");
        let fields = self.fields(node, &context, VOICE_KEYS, None)?;
        Some(VoiceEntry {
            span: fields.anchor(),
            id: self.required(&fields, "id", &context, |r, n| r.string(n, "id")),
            model: fields.get("model").and_then(|n| self.string(n, "model")),
            stability: fields.get("stability").and_then(|n| self.number(n, "stability")),
            similarity_boost: fields.get("similarity_boost").and_then(|n| self.number(n, "similarity_boost")),
            style: fields.get("style").and_then(|n| self.number(n, "style")),
            use_speaker_boost: fields
                .get("use_speaker_boost")
                .and_then(|n| self.boolean(n, "use_speaker_boost")),
            speed: fields.get("speed").and_then(|n| self.number(n, "speed")),
        })
    }

    /// `pauses: { quieter_than_db, at_least_seconds }` in `owner` (`defaults` or a segment).
    fn pauses(&mut self, node: &Node, owner: &str) -> Option<PausesEntry> {
        let context = format!("the `pauses` of {owner}");
        let fields = self.fields(node, &context, PAUSES_KEYS, None)?;
        Some(PausesEntry {
            span: fields.anchor(),
            quieter_than_db: fields.get("quieter_than_db").and_then(|n| self.number(n, "quieter_than_db")),
            at_least_seconds: fields.get("at_least_seconds").and_then(|n| self.number(n, "at_least_seconds")),
        })
    }

    fn captions(&mut self, node: &Node) -> Option<CaptionsEntry> {
        let fields = self.fields(node, "`captions`", CAPTIONS_KEYS, None)?;
        let styles: Vec<(&str, CaptionStyle)> =
            CaptionStyle::ALL.iter().map(|style| (style.as_str(), *style)).collect();
        Some(CaptionsEntry {
            span: fields.anchor(),
            burn: fields.get("burn").and_then(|n| self.boolean(n, "burn")),
            style: fields.get("style").and_then(|n| self.choice(n, "style", &styles)),
            words_per_page: fields.get("words_per_page").and_then(|n| self.number(n, "words_per_page")),
        })
    }

    fn prompt(&mut self, node: &Node, key: &str) -> Option<PromptSpec> {
        match &node.value {
            Value::Str(text) => Some(PromptSpec::Text(Spanned::new(text.clone(), node.span))),
            Value::Map(_) => {
                let fields = self.fields(node, &format!("`{key}`"), PROMPT_KEYS, None)?;
                Some(PromptSpec::Parts {
                    subject: fields.get("subject").and_then(|n| self.string(n, "subject")),
                    expression: fields.get("expression").and_then(|n| self.string(n, "expression")),
                    movement: fields.get("movement").and_then(|n| self.string(n, "movement")),
                    style: fields.get("style").and_then(|n| self.string(n, "style")),
                    span: fields.anchor(),
                })
            }
            _ => {
                self.wrong_type(node, key, "a string or a mapping of subject, expression, movement and style", "write the prompt as one quoted string, or as the four parts `subject`, `expression`, `movement`, `style`");
                None
            }
        }
    }

    /// The entries of a mapping; keys not in `allowed` are reported with a suggestion.
    fn fields<'a>(
        &mut self,
        node: &'a Node,
        context: &str,
        allowed: &[&str],
        key_span: Option<Span>,
    ) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            let span = if node.span.len == 0 { key_span.unwrap_or(node.span) } else { node.span };
            self.problems.push(
                Problem::error(
                    "wrong-type",
                    format!("{context} must be a mapping, but this is {}", node.value.type_name()),
                )
                .with_span(span, node.value.type_name())
                .with_help(format!("{context} takes the keys {}", list(allowed))),
            );
            return None;
        };
        for (key, _) in entries {
            let Value::Str(name) = &key.value else {
                self.problems.push(
                    Problem::error("wrong-type", format!("keys in {context} must be strings"))
                        .with_span(key.span, "not a string"),
                );
                continue;
            };
            if !allowed.contains(&name.as_str()) {
                let mut problem =
                    Problem::error("unknown-field", format!("unknown field `{name}` in {context}"))
                        .with_span(key.span, "unknown field");
                let misplaced = MISPLACED.iter().find(|(key, _)| key == name).map(|(_, help)| *help);
                problem = match (misplaced, closest(name, allowed.iter().copied())) {
                    (Some(help), _) => problem.with_help(help),
                    (None, Some(suggestion)) => problem.with_help(format!("did you mean `{suggestion}`?")),
                    (None, None) => problem.with_help(format!("{context} takes the keys {}", list(allowed))),
                };
                self.problems.push(problem);
            }
        }
        Some(Fields {
            entries,
            span: if node.span.len == 0 { key_span.unwrap_or(node.span) } else { node.span },
        })
    }

    fn required<T>(
        &mut self,
        fields: &Fields<'_>,
        key: &str,
        context: &str,
        read: impl FnOnce(&mut Self, &Node) -> Option<T>,
    ) -> Option<T> {
        match fields.get(key) {
            Some(node) => read(self, node),
            None => {
                let help = match key {
                    "episode" => {
                        "add `episode: <id>`: lowercase letters, digits, `-` and `_`; it names the output and the state"
                    }
                    "image" => {
                        "add `image: <path to a PNG, JPEG or WebP, at least 512x512>`, relative to the manifest"
                    }
                    "speaker" => {
                        "add `speaker: <cast member>`, or a `broll:` block for a segment without speech"
                    }
                    "audio" => {
                        "add `audio: <path to an MP3, WAV or AAC file of 2-60 s>`, relative to the manifest, or `line: \"what they say\"` for a voice to speak"
                    }
                    "id" if context.starts_with("the `voice`") => {
                        "add `id: <ElevenLabs voice id>` (the voice library shows each voice's id)"
                    }
                    "id" => "add `id: <name>`; ids name clips in plans and reports and must be unique",
                    "model" => "add `model: <name>`; `episodic models` lists them",
                    "prompt" => "add `prompt: \"...\"` describing the shot",
                    "duration" => {
                        "add `duration: <seconds>` allowed by the model (`episodic models` shows the rules)"
                    }
                    _ => "add it",
                };
                self.missing(fields, key, context, help);
                None
            }
        }
    }

    fn missing(&mut self, fields: &Fields<'_>, key: &str, context: &str, help: &str) {
        self.problems.push(
            Problem::error("missing-field", format!("{context} has no `{key}`"))
                .with_span(fields.anchor(), format!("`{key}` is missing"))
                .with_help(help),
        );
    }

    /// A model name, or a list of them (a fallback chain): the first, and the ones that take over.
    fn model_chain(
        &mut self,
        node: Option<&Node>,
        key: &str,
    ) -> (Option<Spanned<String>>, Vec<Spanned<String>>) {
        let Some(node) = node else { return (None, Vec::new()) };
        let Value::Seq(items) = &node.value else { return (self.string(node, key), Vec::new()) };
        let mut names = items.iter().filter_map(|item| self.string(item, key));
        let first = names.next();
        let rest: Vec<Spanned<String>> = names.collect();
        if items.is_empty() {
            self.problems.push(
                Problem::error("empty-model-list", format!("`{key}` is an empty list"))
                    .with_span(node.span, "no model")
                    .with_help(format!(
                        "name one model, or several in order: `{key}: [omnihuman-v1.5, kling-avatar-v2-pro]`"
                    )),
            );
        }
        (first, rest)
    }

    fn string(&mut self, node: &Node, key: &str) -> Option<Spanned<String>> {
        match &node.value {
            Value::Str(text) => Some(Spanned::new(text.clone(), node.span)),
            _ => {
                self.wrong_type(node, key, "a string", "put the value in quotes");
                None
            }
        }
    }

    /// Ids may be written as numbers (`id: 3`); they are names all the same.
    fn identifier(&mut self, node: &Node, key: &str) -> Option<Spanned<String>> {
        match &node.value {
            Value::Int(number) => Some(Spanned::new(number.to_string(), node.span)),
            _ => self.string(node, key),
        }
    }

    fn number(&mut self, node: &Node, key: &str) -> Option<Spanned<f64>> {
        match node.value {
            Value::Int(number) => Some(Spanned::new(number as f64, node.span)),
            Value::Float(number) if number.is_finite() => Some(Spanned::new(number, node.span)),
            _ => {
                let example = match key {
                    "budget_usd" => "`budget_usd: 15` (dollars)",
                    "duration" => "`duration: 5` (seconds)",
                    "cfg_scale" => "`cfg_scale: 0.5`",
                    "take" => "`take: 2`",
                    "quieter_than_db" => "`quieter_than_db: -35` (dBFS)",
                    "at_least_seconds" => "`at_least_seconds: 0.3`",
                    _ => "a plain number",
                };
                self.wrong_type(
                    node,
                    key,
                    "a number",
                    &format!("write a number without quotes, e.g. {example}"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, key: &str) -> Option<Spanned<bool>> {
        match node.value {
            Value::Bool(value) => Some(Spanned::new(value, node.span)),
            _ => {
                self.wrong_type(
                    node,
                    key,
                    "true or false",
                    "write `true` or `false` (YAML 1.2: `yes`/`no` are strings)",
                );
                None
            }
        }
    }

    fn aspect_ratio(&mut self, node: &Node) -> Option<Spanned<AspectRatio>> {
        let choices: Vec<(&str, AspectRatio)> =
            AspectRatio::ALL.iter().map(|ratio| (ratio.as_str(), *ratio)).collect();
        if let Value::Int(_) | Value::Float(_) = node.value {
            self.problems.push(
                Problem::error("wrong-type", "`aspect_ratio` must be a quoted string")
                    .with_span(node.span, "read as a number")
                    .with_help("quote it: `aspect_ratio: \"16:9\"`, `\"9:16\"` or `\"1:1\"`"),
            );
            return None;
        }
        self.choice(node, "aspect_ratio", &choices)
    }

    fn layout(&mut self, node: &Node) -> Option<Spanned<Layout>> {
        let choices: Vec<(&str, Layout)> =
            Layout::ALL.iter().map(|layout| (layout.as_str(), *layout)).collect();
        self.choice(node, "layout", &choices)
    }

    fn seat(&mut self, node: &Node) -> Option<Spanned<Seat>> {
        self.choice(
            node,
            "seat",
            &[("left", Seat::Left), ("right", Seat::Right), ("top", Seat::Left), ("bottom", Seat::Right)],
        )
    }

    fn choice<T: Copy>(&mut self, node: &Node, key: &str, choices: &[(&str, T)]) -> Option<Spanned<T>> {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let Value::Str(text) = &node.value else {
            self.wrong_type(
                node,
                key,
                &format!("one of {}", list(&names)),
                &format!("write one of {}", list(&names)),
            );
            return None;
        };
        if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(Spanned::new(*value, node.span));
        }
        let help = match closest(text, names.iter().copied()) {
            Some(suggestion) => format!("did you mean `{suggestion}`? `{key}` is one of {}", list(&names)),
            None => format!("`{key}` is one of {}", list(&names)),
        };
        self.problems.push(
            Problem::error("invalid-value", format!("`{text}` is not a valid `{key}`"))
                .with_span(node.span, "not allowed here")
                .with_help(help),
        );
        None
    }

    fn wrong_type(&mut self, node: &Node, key: &str, expected: &str, help: &str) {
        self.problems.push(
            Problem::error(
                "wrong-type",
                format!("`{key}` must be {expected}, but this is {}", node.value.type_name()),
            )
            .with_span(node.span, node.value.type_name())
            .with_help(help),
        );
    }
}

/// The `id` of a segment as written, to name it in messages before it is read.
fn written_id(node: &Node) -> Option<String> {
    let Value::Map(entries) = &node.value else { return None };
    entries.iter().find(|(key, _)| key.value == Value::Str("id".into())).and_then(|(_, value)| {
        match &value.value {
            Value::Str(id) => Some(id.clone()),
            Value::Int(id) => Some(id.to_string()),
            _ => None,
        }
    })
}

/// `a`, `b` and `c`
fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}
