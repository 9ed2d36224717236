//! Building the DAG from an episode.

mod chain;
mod split;

use crate::node::{
    AlignSpec, AudioSegment, AudioSpec, BurnedCaptions, ComposeSpec, ConcatSpec, FILE_PLACEHOLDER,
    ListenerFill, Node, NodeDetail, RenderRole, RenderSpec, SidecarSegment, SidecarSpec, SpeechSpec,
    UploadSpec,
};
use crate::{NodeKey, Plan};
use episodic_catalog::{
    ArgKind, ArgSource, Catalog, DurationRule, Model, ModelKind, OutputSize, SPEECH_OUTPUT_FORMAT, Tier, Usd,
    voice_model,
};
use episodic_manifest::{
    Broll, Dialogue, Episode, Layout, Line, MediaFile, Problem, Segment, SegmentKind, Speech,
};
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// How listener clips cover the speech, stated once for docs and `plan` output.
pub const LISTENER_POLICY: &str = "a listener clip is the shortest length the model offers that covers the speech \
(5 s up to 5 s of speech, 10 s up to 10 s), trimmed to fit; longer speech gets one 10 s clip that starts and ends \
on the character's image and is looped, so a reaction shot never costs more than 10 s of video";

/// The episode's audio: what fal's avatars deliver and players expect.
const AUDIO_RATE: u32 = 48_000;
const AUDIO_CHANNELS: u32 = 2;
const AUDIO_BITRATE: &str = "128k";

/// Choices that change the plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Render every avatar on the standard tier, for a cheap preview.
    pub draft: bool,
    /// Divide the episode's canvas by this (0 or 1 = full size), for quick previews and tests.
    pub canvas_divisor: u32,
}

impl Plan {
    /// Builds the plan for an episode.
    pub fn build(episode: &Episode, catalog: &Catalog, options: PlanOptions) -> Plan {
        let mut plan = Builder::new(catalog, options.draft, options.canvas_divisor).build(episode);
        if options.draft {
            let full = Builder::new(catalog, false, options.canvas_divisor).build(episode);
            plan.draft_savings = Some(full.total_cost().saturating_sub(plan.total_cost()));
        }
        plan
    }
}

struct Builder<'a> {
    catalog: &'a Catalog,
    draft: bool,
    canvas_divisor: u32,
    graph: DiGraph<Node, ()>,
    uploads: HashMap<String, NodeIndex>,
    /// Renders by key: two segments that ask for the same clip share one render (and one payment).
    renders: HashMap<NodeKey, NodeIndex>,
    /// Speech by key: an identical line (same voice, settings and text) is voiced once.
    speeches: HashMap<NodeKey, NodeIndex>,
    downloads: HashMap<NodeIndex, NodeIndex>,
    ids: HashSet<String>,
    warnings: Vec<Problem>,
    warned: HashSet<(String, &'static str)>,
    /// The fallback chain of the render being built (see `chain_next`).
    chain: Vec<&'a Model>,
    /// The episode's `fallback_after`.
    fallback_after: u32,
    /// Every segment that asked for each render, in order (two or more: shared).
    asked: HashMap<NodeIndex, Vec<String>>,
    /// What each render shows, for the plan's "shared by" note.
    shows: HashMap<NodeIndex, String>,
    /// Renders of a segment's later take.
    takes: HashMap<NodeIndex, u32>,
    /// The pause rule each long line's piece render was cut at.
    cut_by: HashMap<NodeIndex, episodic_manifest::PauseRule>,
}

impl<'a> Builder<'a> {
    fn new(catalog: &'a Catalog, draft: bool, canvas_divisor: u32) -> Self {
        Self {
            catalog,
            draft,
            canvas_divisor,
            graph: DiGraph::new(),
            uploads: HashMap::new(),
            renders: HashMap::new(),
            speeches: HashMap::new(),
            downloads: HashMap::new(),
            ids: HashSet::new(),
            warnings: Vec::new(),
            warned: HashSet::new(),
            chain: Vec::new(),
            fallback_after: 2,
            asked: HashMap::new(),
            shows: HashMap::new(),
            takes: HashMap::new(),
            cut_by: HashMap::new(),
        }
    }

    fn build(mut self, episode: &Episode) -> Plan {
        self.fallback_after = episode.fallback_after;
        let quality = if self.draft { Tier::Standard } else { episode.quality };
        let canvas_size = match quality {
            Tier::Pro => OutputSize::P1080,
            Tier::Standard => OutputSize::P720,
        };
        let full = canvas_size.resolution(episode.aspect_ratio);
        let divisor = self.canvas_divisor.max(1);
        let even = |value: u32| ((value / divisor).max(2) / 2) * 2;
        let canvas = episodic_catalog::Resolution { width: even(full.width), height: even(full.height) };
        let fps = self.catalog.default_avatar(quality).fps;

        let mut composes = Vec::with_capacity(episode.segments.len());
        let mut sounds = Vec::with_capacity(episode.segments.len());
        for segment in &episode.segments {
            let (compose, speech) = match &segment.kind {
                SegmentKind::Dialogue(dialogue) => {
                    let compose = self.dialogue(episode, segment, dialogue, canvas, fps);
                    (compose, self.sound_of(dialogue))
                }
                SegmentKind::Broll(broll) => (self.broll(episode, segment, broll, canvas, fps), Sound::Clip),
            };
            composes.push(compose);
            sounds.push(speech);
        }

        let audio = self.audio(episode, &composes, &sounds, fps);
        let segments: Vec<String> = composes.iter().map(|index| self.graph[*index].id.clone()).collect();
        let keys: Vec<&str> = composes.iter().map(|index| self.graph[*index].key.as_str()).collect();
        let key = NodeKey::of_json(
            &json!({"concat": 2, "segments": keys, "audio": self.graph[audio].key.as_str()}),
        );
        let (sidecars, speeches) = self.sidecars(episode, &composes);
        let spec = ConcatSpec {
            segments,
            audio: self.graph[audio].id.clone(),
            output: episode.output.clone(),
            sidecars,
        };
        let concat = self.add(
            format!("concat/{}", episode.id),
            key,
            format!("{} segments → {}", spec.segments.len(), file_name(&episode.output)),
            Usd::ZERO,
            NodeDetail::Concat(spec),
        );
        // The speeches time the sidecars' words (the audio node needs them too: one edge each).
        for input in composes.into_iter().chain([audio]).chain(speeches) {
            self.graph.add_edge(input, concat, ());
        }

        // Every node is added after the nodes it needs, so insertion order is a dependency order,
        // and the one a reader expects: each segment's uploads, renders and compose together.
        let order: Vec<NodeIndex> = self.graph.node_indices().collect();
        debug_assert!(self.graph.raw_edges().iter().all(|edge| edge.source() < edge.target()));
        let mut shared = HashMap::new();
        for (index, segments) in std::mem::take(&mut self.asked) {
            if segments.len() > 1 {
                let what = self.shows.remove(&index).unwrap_or_else(|| self.graph[index].label.clone());
                shared.insert(index, crate::Sharing { what, segments });
            }
        }
        Plan {
            episode: episode.id.clone(),
            title: episode.title.clone(),
            manifest: episode.manifest_path.clone(),
            output: episode.output.clone(),
            canvas,
            fps,
            layout: episode.layout,
            quality,
            draft: self.draft,
            draft_savings: None,
            budget: episode.budget.as_ref().map(|budget| (budget.value, budget.span)),
            graph: self.graph,
            order,
            warnings: self.warnings,
            captions: episode.captions,
            shared,
            takes: self.takes,
            cut_by: self.cut_by,
        }
    }

    fn dialogue(
        &mut self,
        episode: &Episode,
        segment: &Segment,
        dialogue: &Dialogue,
        canvas: episodic_catalog::Resolution,
        fps: u32,
    ) -> NodeIndex {
        let speaker = episode.member(dialogue.speaker);
        let model = self.speaker_model(&dialogue.model);
        let image = self.upload(&speaker.image);
        let mut align = None;
        let (audio, speech) = match &dialogue.speech {
            Speech::Audio { file, .. } => {
                // A recording's words are timed only when the manifest says what is said.
                align = dialogue.text.as_ref().map(|text| self.align(segment, file, text));
                // A recording rendered in pieces uploads the pieces, not the whole track.
                (dialogue.pieces.is_empty().then(|| self.upload(file)), None)
            }
            Speech::Line(line) => {
                let speech = self.speech(segment, line);
                (Some(self.speech_upload(speech)), Some(speech))
            }
        };

        let mut args = Map::new();
        put_file(&mut args, model.image_arg(), &speaker.image);
        if let (Some(key), Some(audio)) = (model.audio_arg(), audio) {
            // The upload node's key: a file's sha256, or what a voiced line's key derives. Pieces
            // put their own audio in (`speaker_pieces`).
            args.insert(key.to_owned(), json!({ FILE_PLACEHOLDER: self.graph[audio].key.as_str() }));
        }
        if !dialogue.prompt.is_empty() && model.schema_arg("prompt").is_some() {
            args.insert("prompt".into(), Value::String(dialogue.prompt.clone()));
        }
        self.optional_arg(
            &mut args,
            model,
            segment,
            "negative_prompt",
            Value::String(dialogue.negative_prompt.clone()),
            dialogue.negative_prompt_explicit,
        );
        if let Some(cfg) = dialogue.cfg_scale {
            self.optional_arg(&mut args, model, segment, "cfg_scale", json!(cfg), true);
        }
        put_required_defaults(&mut args, model);
        let seconds = dialogue.speech.seconds();
        let estimated = dialogue.speech.is_estimate();
        let main = match audio {
            Some(audio) => {
                self.chain_next(&dialogue.model_fallbacks);
                let speaker_render = self.render(
                    segment,
                    RenderRole::Speaker,
                    model,
                    args,
                    seconds,
                    false,
                    estimated,
                    &[image, audio],
                );
                self.shows.entry(speaker_render).or_insert_with(|| format!("{} speaking", speaker.name));
                self.download(speaker_render)
            }
            None => self.speaker_pieces(segment, model, &args, dialogue, image, &speaker.name),
        };

        let mut listener_download = None;
        let mut fill = None;
        if let (Some(listener), Layout::SideBySide | Layout::Stacked) = (&dialogue.listener, segment.layout) {
            let member = episode.member(listener.member);
            let model = self.catalog.get(&listener.model).unwrap_or(self.catalog.default_listener());
            let (clip_seconds, listener_fill) = listener_length(&model.duration, seconds);
            let image = self.upload(&member.image);
            let mut args = Map::new();
            put_file(&mut args, model.image_arg(), &member.image);
            args.insert("prompt".into(), Value::String(listener.prompt.clone()));
            if model.schema_arg("duration").is_some() {
                args.insert("duration".into(), Value::String(clip_seconds.to_string()));
            }
            if model.schema_arg("negative_prompt").is_some() {
                args.insert("negative_prompt".into(), Value::String(listener.negative_prompt.clone()));
            }
            if model.schema_arg("generate_audio").is_some() {
                args.insert("generate_audio".into(), Value::Bool(false));
            }
            if listener_fill == ListenerFill::Loop && model.schema_arg("end_image_url").is_some() {
                put_file(&mut args, Some("end_image_url"), &member.image);
            }
            put_required_defaults(&mut args, model);
            // The listener's length is chosen from the estimate when the line is not voiced yet;
            // a listener clip covers up to its whole length, looped past it, either way.
            self.chain_next(&listener.model_fallbacks);
            let render = self.render(
                segment,
                RenderRole::Listener,
                model,
                args,
                f64::from(clip_seconds),
                false,
                false,
                &[image],
            );
            self.shows.entry(render).or_insert_with(|| format!("{} listening", member.name));
            listener_download = Some(self.download(render));
            fill = Some(listener_fill);
        }

        let spec = ComposeSpec {
            segment: segment.id.clone(),
            layout: if listener_download.is_some() { segment.layout } else { Layout::Solo },
            canvas,
            fps,
            seconds,
            speech: speech.map(|index| self.graph[index].id.clone()),
            align: align.map(|index| self.graph[index].id.clone()),
            text: dialogue.text.clone(),
            // Only timed words (a voiced line's, or a recording's aligned) can be drawn.
            burn: episode
                .captions
                .filter(|captions| captions.burn && (speech.is_some() || align.is_some()))
                .map(|captions| BurnedCaptions {
                    style: captions.style,
                    words_per_page: captions.words_per_page,
                }),
            main: self.graph[main].id.clone(),
            speaker_seat: listener_download.map(|_| speaker.seat),
            listener: listener_download.map(|index| self.graph[index].id.clone()),
            listener_fill: fill,
        };
        // The speech is an input too: its audio's real length decides the segment's.
        // A recording's words are an input only when drawn: the sidecars take them from concat.
        let drawn = align.filter(|_| spec.burn.is_some());
        let inputs: Vec<NodeIndex> =
            [Some(main), listener_download, speech, drawn].into_iter().flatten().collect();
        self.compose(spec, &inputs)
    }

    fn broll(
        &mut self,
        episode: &Episode,
        segment: &Segment,
        broll: &Broll,
        canvas: episodic_catalog::Resolution,
        fps: u32,
    ) -> NodeIndex {
        let model = self.catalog.get(&broll.model).unwrap_or(self.catalog.default_listener());
        let mut args = Map::new();
        let mut inputs = Vec::new();
        args.insert("prompt".into(), Value::String(broll.prompt.clone()));
        if let Some(image) = &broll.image {
            inputs.push(self.upload(image));
            put_file(&mut args, model.image_arg(), image);
        }
        if model.schema_arg("duration").is_some() {
            args.insert("duration".into(), Value::String(broll.duration.to_string()));
        }
        if model.schema_arg("aspect_ratio").is_some() {
            args.insert("aspect_ratio".into(), Value::String(episode.aspect_ratio.as_str().to_owned()));
        }
        if model.schema_arg("generate_audio").is_some() {
            args.insert("generate_audio".into(), Value::Bool(broll.generate_audio));
        }
        if let Some(negative) = &broll.negative_prompt {
            self.optional_arg(
                &mut args,
                model,
                segment,
                "negative_prompt",
                Value::String(negative.clone()),
                true,
            );
        }
        put_required_defaults(&mut args, model);
        let seconds = f64::from(broll.duration);
        self.chain_next(&broll.model_fallbacks);
        let render = self.render(
            segment,
            RenderRole::Broll,
            model,
            args,
            seconds,
            broll.generate_audio,
            false,
            &inputs,
        );
        let main = self.download(render);
        let spec = ComposeSpec {
            segment: segment.id.clone(),
            layout: Layout::Solo,
            canvas,
            fps,
            seconds,
            speech: None,
            align: None,
            text: None,
            burn: None,
            main: self.graph[main].id.clone(),
            speaker_seat: None,
            listener: None,
            listener_fill: None,
        };
        self.compose(spec, &[main])
    }

    /// The speech whose sound the speaker's clip carries: an avatar driven by an audio file returns
    /// that audio as its clip's sound (lip-synced to it from the first sample), so the episode's
    /// sound can be read from the file before the render exists.
    fn sound_of(&self, dialogue: &Dialogue) -> Sound {
        let model = self.speaker_model(&dialogue.model);
        if !(model.kind == ModelKind::Avatar && model.audio_arg().is_some()) {
            return Sound::Clip;
        }
        match &dialogue.speech {
            Speech::Audio { file, .. } => Sound::File(file.clone()),
            Speech::Line(_) => Sound::Voiced,
        }
    }

    fn speaker_model(&self, name: &str) -> &'a Model {
        let model = self.catalog.get(name).unwrap_or(self.catalog.default_avatar(Tier::Pro));
        if self.draft { self.catalog.draft_avatar() } else { model }
    }

    /// Sends an argument the model's schema has; sends one only the notes list when the manifest
    /// set it explicitly (with a warning, once per model); drops anything else (with a warning).
    fn optional_arg(
        &mut self,
        args: &mut Map<String, Value>,
        model: &Model,
        segment: &Segment,
        name: &'static str,
        value: Value,
        explicit: bool,
    ) {
        match model.arg(name).map(|arg| arg.source) {
            Some(ArgSource::Schema) => {
                args.insert(name.into(), value);
            }
            Some(ArgSource::NotesOnly) if explicit => {
                args.insert(name.into(), value);
                self.warn_once(model, name, || {
                    Problem::warning("extra-argument", format!("`{name}` is not in fal's schema for {}; it is sent because the manifest sets it, and fal may ignore it", model.name))
                        .with_span(segment.span, format!("segment `{}`", segment.id))
                        .with_help(format!("remove `{name}` to send only what {} documents", model.endpoint))
                });
            }
            Some(ArgSource::NotesOnly) => {}
            None if explicit => {
                self.warn_once(model, name, || {
                    Problem::warning(
                        "ignored-argument",
                        format!("{} takes no `{name}`; it is not sent", model.name),
                    )
                    .with_span(segment.span, format!("segment `{}`", segment.id))
                    .with_help(format!("remove `{name}` for this model"))
                });
            }
            None => {}
        }
    }

    fn warn_once(&mut self, model: &Model, name: &'static str, problem: impl FnOnce() -> Problem) {
        if self.warned.insert((model.name.clone(), name)) {
            self.warnings.push(problem());
        }
    }

    /// The speech node of a line: keyed by everything that decides the audio (voice, model,
    /// settings, output format, the exact text), so an unchanged line is never voiced twice and
    /// two segments saying the same line with the same voice share one.
    fn speech(&mut self, segment: &Segment, line: &Line) -> NodeIndex {
        let voice = &line.voice;
        let model = voice_model(&voice.model);
        let spec = SpeechSpec {
            segment: segment.id.clone(),
            voice_id: voice.id.clone(),
            model: voice.model.clone(),
            settings: voice.settings.clone(),
            output_format: SPEECH_OUTPUT_FORMAT.to_owned(),
            text: line.text.clone(),
            characters: line.characters,
            estimated_seconds: line.estimated_seconds,
            price_as_of: model.map(|m| m.as_of.to_owned()).unwrap_or_default(),
            price_source: model.map(|m| m.source.to_owned()).unwrap_or_default(),
        };
        let key = NodeKey::of_json(&spec.key_json());
        if let Some(existing) = self.speeches.get(&key) {
            return *existing;
        }
        let cost = model.map(|model| model.cost(line.characters)).unwrap_or_default();
        let label = format!("{} chars on {}, ~{:.1} s", line.characters, voice.model, line.estimated_seconds);
        let index =
            self.add(format!("speech/{}", segment.id), key.clone(), label, cost, NodeDetail::Speech(spec));
        self.speeches.insert(key, index);
        index
    }

    /// The upload of a speech node's audio (one per speech node).
    fn speech_upload(&mut self, speech: NodeIndex) -> NodeIndex {
        let node = &self.graph[speech];
        let key = NodeKey::of_json(&json!({"upload": 1, "speech": node.key.as_str()}));
        if let Some(index) = self.uploads.get(key.as_str()) {
            return *index;
        }
        let id = node.id.replacen("speech/", "upload/speech-", 1) + ".mp3";
        let detail = NodeDetail::Upload(UploadSpec::Speech { speech: node.id.clone() });
        let index = self.add(id, key.clone(), "voiced line".to_owned(), Usd::ZERO, detail);
        self.graph.add_edge(speech, index, ());
        self.uploads.insert(key.as_str().to_owned(), index);
        index
    }

    fn upload(&mut self, file: &MediaFile) -> NodeIndex {
        if let Some(index) = self.uploads.get(&file.sha256) {
            return *index;
        }
        let name = file_name(&file.path);
        let mut id = format!("upload/{name}");
        if self.ids.contains(&id) {
            id = format!("upload/{name}~{}", &file.sha256[..8]);
        }
        let label = format!("{name} ({})", human_bytes(file.size));
        let index = self.add(
            id,
            NodeKey::of_file(&file.sha256),
            label,
            Usd::ZERO,
            NodeDetail::Upload(UploadSpec::File { file: file.clone() }),
        );
        self.uploads.insert(file.sha256.clone(), index);
        index
    }

    #[allow(clippy::too_many_arguments)]
    fn render(
        &mut self,
        segment: &Segment,
        role: RenderRole,
        model: &Model,
        args: Map<String, Value>,
        seconds: f64,
        generate_audio: bool,
        estimated: bool,
        inputs: &[NodeIndex],
    ) -> NodeIndex {
        let id = format!("render/{}/{}", segment.id, role.as_str());
        let approx = if estimated { "~" } else { "" };
        let label = format!("{} {approx}{:.1} s on {}", role.as_str(), seconds, model.name);
        self.render_as(id, label, segment, role, model, args, seconds, generate_audio, estimated, inputs)
    }

    /// The fallback chain of the next render (`model: [first, …]`), taken by `render_as`.
    fn chain_next(&mut self, names: &[String]) {
        self.chain = if self.draft {
            // A draft renders every avatar on the one cheapest model: no chain.
            Vec::new()
        } else {
            names.iter().filter_map(|name| self.catalog.get(name)).collect()
        };
    }

    /// As [`Builder::render`], with the node's id and label given.
    #[allow(clippy::too_many_arguments)]
    fn render_as(
        &mut self,
        id: String,
        label: String,
        segment: &Segment,
        role: RenderRole,
        model: &Model,
        args: Map<String, Value>,
        seconds: f64,
        generate_audio: bool,
        estimated: bool,
        inputs: &[NodeIndex],
    ) -> NodeIndex {
        let chain = std::mem::take(&mut self.chain);
        let args = Value::Object(args);
        // A later take is the same request rendered afresh: its own key, its own payment. The
        // first take's key is unchanged, so `take: 1` reuses what was rendered without one.
        let mut identity = json!({"endpoint": model.endpoint, "args": args});
        if segment.take > 1
            && let Some(fields) = identity.as_object_mut()
        {
            fields.insert("take".into(), json!(segment.take));
        }
        let key = NodeKey::of_json(&identity);
        if let Some(existing) = self.renders.get(&key) {
            self.asked.entry(*existing).or_default().push(segment.id.clone());
            return *existing;
        }
        let fallbacks = match args.as_object() {
            Some(map) if !chain.is_empty() => {
                chain::fallbacks(map, model, &chain, seconds, generate_audio, segment.take)
            }
            _ => Vec::new(),
        };
        // Budgets hold whichever model of the chain renders.
        let cost = fallbacks
            .iter()
            .map(|fallback| fallback.cost)
            .fold(model.cost(seconds, generate_audio), Usd::max);
        let label = match fallbacks.is_empty() {
            true => label,
            false => {
                let names: Vec<&str> = fallbacks.iter().map(|fallback| fallback.model.as_str()).collect();
                format!("{label}, then {}", names.join(", then "))
            }
        };
        let spec = RenderSpec {
            segment: segment.id.clone(),
            role,
            model: model.name.clone(),
            endpoint: model.endpoint.clone(),
            args,
            seconds,
            generate_audio,
            estimated,
            fallbacks,
            fallback_after: self.fallback_after,
        };
        let index = self.add(id, key.clone(), label, cost, NodeDetail::Render(spec));
        self.renders.insert(key, index);
        self.asked.insert(index, vec![segment.id.clone()]);
        if segment.take > 1 {
            self.takes.insert(index, segment.take);
        }
        // `update_edge` would search the upload's edges, and a portrait's upload feeds every
        // render of its character: quadratic in segments (half of a 10,000-segment plan's time).
        // The node is new, so only a file given twice (image and audio alike) could repeat.
        for (at, input) in inputs.iter().enumerate() {
            if !inputs[..at].contains(input) {
                self.graph.add_edge(*input, index, ());
            }
        }
        index
    }

    fn download(&mut self, render: NodeIndex) -> NodeIndex {
        if let Some(existing) = self.downloads.get(&render) {
            return *existing;
        }
        let render_node = &self.graph[render];
        let id = render_node.id.replacen("render/", "download/", 1);
        let key = NodeKey::of_json(&json!({"download": render_node.key.as_str()}));
        let detail = NodeDetail::Download { render: render_node.id.clone() };
        let label = "result → artifacts".to_owned();
        let index = self.add(id, key, label, Usd::ZERO, detail);
        self.graph.add_edge(render, index, ());
        self.downloads.insert(render, index);
        index
    }

    fn compose(&mut self, spec: ComposeSpec, inputs: &[NodeIndex]) -> NodeIndex {
        let input_keys: Vec<&str> = inputs.iter().map(|index| self.graph[*index].key.as_str()).collect();
        let key = NodeKey::of_json(&json!({
            "compose": 1,
            "inputs": input_keys,
            "layout": spec.layout,
            "canvas": [spec.canvas.width, spec.canvas.height],
            "fps": spec.fps,
            "milliseconds": (spec.seconds * 1000.0).round() as u64,
            "speaker_seat": spec.speaker_seat,
            "listener_fill": spec.listener_fill,
        }));
        // Burned captions change the pictures, so they key the compose (and only the compose: an
        // edited caption re-composes, never re-renders); without them the key is as it always was.
        let key = match (&spec.burn, &spec.text) {
            (Some(burn), Some(text)) => NodeKey::of_json(&json!({
                "compose": key.as_str(),
                "captions": {"style": burn.style, "words_per_page": burn.words_per_page, "text": text},
            })),
            _ => key,
        };
        let label = format!("{} {} {:.1} s", spec.layout.as_str(), spec.canvas, spec.seconds);
        let index =
            self.add(format!("compose/{}", spec.segment), key, label, Usd::ZERO, NodeDetail::Compose(spec));
        for input in inputs {
            self.graph.add_edge(*input, index, ());
        }
        index
    }

    /// The episode's audio: needs only each segment's sound, not its compose, so it is encoded
    /// while the composes run and concat is left with copying. A segment whose sound is its speech
    /// (`sounds[i]`, see [`Builder::sound_of`]) gives the node no clip as input: with every segment
    /// so, the audio is encoded while the renders are out, and the last render leaves only its
    /// compose and the concat's copy behind it. Other segments' sound waits for their clip.
    fn audio(&mut self, episode: &Episode, composes: &[NodeIndex], sounds: &[Sound], fps: u32) -> NodeIndex {
        let mut segments = Vec::with_capacity(composes.len());
        let mut sources = Vec::with_capacity(composes.len());
        let mut inputs = Vec::with_capacity(composes.len());
        for (compose, sound) in composes.iter().zip(sounds) {
            let NodeDetail::Compose(spec) = &self.graph[*compose].detail else { continue };
            // The main clip is one of the compose's own inputs: no search of the whole graph.
            let find = |id: &str| {
                self.graph
                    .neighbors_directed(*compose, petgraph::Direction::Incoming)
                    .find(|input| self.graph[*input].id == id)
            };
            let main = find(&spec.main);
            let speech = spec.speech.as_deref().and_then(find);
            if let Some(main) = main {
                segments.push(AudioSegment {
                    segment: spec.segment.clone(),
                    main: spec.main.clone(),
                    speech_file: match sound {
                        Sound::File(file) => Some(file.clone()),
                        _ => None,
                    },
                    voiced: matches!(sound, Sound::Voiced) && speech.is_some(),
                    seconds: spec.seconds,
                    speech: spec.speech.clone(),
                });
                match (sound, speech) {
                    (Sound::File(file), _) => sources.push(json!({ FILE_PLACEHOLDER: file.sha256 })),
                    (Sound::Voiced, Some(speech)) => sources.push(json!(self.graph[speech].key.as_str())),
                    _ => {
                        sources.push(json!(self.graph[main].key.as_str()));
                        inputs.push(main);
                    }
                }
                // A line's real length comes from its speech, so the speech is an input either way.
                inputs.extend(speech);
            }
        }
        let spec = AudioSpec {
            segments,
            fps,
            sample_rate: AUDIO_RATE,
            channels: AUDIO_CHANNELS,
            bitrate: AUDIO_BITRATE.to_owned(),
        };
        let key = NodeKey::of_json(&json!({
            "audio": 2,
            "sources": sources,
            "milliseconds": spec.segments.iter().map(|s| (s.seconds * 1000.0).round() as u64).collect::<Vec<_>>(),
            "fps": spec.fps,
            "sample_rate": spec.sample_rate,
            "channels": spec.channels,
            "bitrate": spec.bitrate,
        }));
        let label = format!(
            "AAC of {} segments, {} kHz, {} ch",
            spec.segments.len(),
            f64::from(spec.sample_rate) / 1000.0,
            spec.channels
        );
        let index = self.add(format!("audio/{}", episode.id), key, label, Usd::ZERO, NodeDetail::Audio(spec));
        // A clip shared by two segments (one render asked for twice) is one input.
        let mut linked = HashSet::with_capacity(inputs.len());
        for main in inputs {
            if linked.insert(main) {
                self.graph.add_edge(main, index, ());
            }
        }
        index
    }

    /// The sidecars' spec, when any segment's words are timed (a voiced line), and the speech
    /// nodes that time them.
    fn sidecars(&self, episode: &Episode, composes: &[NodeIndex]) -> (Option<SidecarSpec>, Vec<NodeIndex>) {
        let mut segments = Vec::with_capacity(composes.len());
        let mut speeches = Vec::new();
        for compose in composes {
            let NodeDetail::Compose(spec) = &self.graph[*compose].detail else { continue };
            let input = |id: Option<&str>| {
                id.and_then(|id| {
                    self.graph
                        .neighbors_directed(*compose, petgraph::Direction::Incoming)
                        .find(|input| self.graph[*input].id == id)
                })
            };
            for timing in [input(spec.speech.as_deref()), input(spec.align.as_deref())].into_iter().flatten()
            {
                if spec.text.is_some() && !speeches.contains(&timing) {
                    speeches.push(timing);
                }
            }
            segments.push(SidecarSegment {
                seconds: spec.seconds,
                speech: spec.speech.clone(),
                align: spec.align.clone(),
            });
        }
        if speeches.is_empty() {
            return (None, speeches);
        }
        let words_per_page = episode
            .captions
            .map_or(episodic_manifest::Captions::DEFAULT_WORDS_PER_PAGE, |captions| captions.words_per_page);
        (Some(SidecarSpec { segments, words_per_page }), speeches)
    }

    /// The align node of a recording and its text: one per distinct recording and text.
    fn align(&mut self, segment: &Segment, audio: &MediaFile, text: &str) -> NodeIndex {
        let spec = AlignSpec { segment: segment.id.clone(), audio: audio.clone(), text: text.to_owned() };
        let key = NodeKey::of_json(&spec.key_json());
        if let Some(index) = self.graph.node_indices().find(|index| self.graph[*index].key == key) {
            return index;
        }
        let label = format!("{} words of {}", text.split_whitespace().count(), audio.written);
        self.add(format!("align/{}", segment.id), key, label, Usd::ZERO, NodeDetail::Align(spec))
    }

    fn add(&mut self, id: String, key: NodeKey, label: String, cost: Usd, detail: NodeDetail) -> NodeIndex {
        self.ids.insert(id.clone());
        self.graph.add_node(Node { id, key, label, cost, detail })
    }
}

/// Where a segment's sound comes from, for the episode's audio: an avatar driven by speech returns
/// that speech as its clip's sound, so it can be read before the render lands.
enum Sound {
    /// A recorded speech file (`audio:`), here from the start.
    File(MediaFile),
    /// A voiced line: its speech node's audio, there once it is voiced.
    Voiced,
    /// The clip's own sound (b-roll, or a model that does not take the speech).
    Clip,
}

/// How long a listener clip is, and how it covers `speech` seconds.
fn listener_length(rule: &DurationRule, speech: f64) -> (u32, ListenerFill) {
    match rule {
        DurationRule::Choices { seconds } => {
            let mut choices = seconds.clone();
            choices.sort_unstable();
            match choices.iter().find(|choice| f64::from(**choice) >= speech) {
                Some(choice) => (*choice, ListenerFill::Trim),
                None => (choices.last().copied().unwrap_or(5), ListenerFill::Loop),
            }
        }
        DurationRule::Range { min, max } => {
            let wanted = speech.ceil().max(f64::from(*min));
            if wanted <= f64::from(*max) {
                (wanted as u32, ListenerFill::Trim)
            } else {
                (*max, ListenerFill::Loop)
            }
        }
        DurationRule::FollowsAudio { .. } => (speech.ceil() as u32, ListenerFill::Trim),
    }
}

fn put_file(args: &mut Map<String, Value>, key: Option<&str>, file: &MediaFile) {
    if let Some(key) = key {
        args.insert(key.to_owned(), json!({ FILE_PLACEHOLDER: file.sha256 }));
    }
}

/// Required arguments that are not media or prompt (VEED Fabric's `resolution`) get the catalog's value.
fn put_required_defaults(args: &mut Map<String, Value>, model: &Model) {
    for arg in &model.args {
        if arg.required
            && !args.contains_key(&arg.name)
            && !matches!(arg.kind, ArgKind::ImageUrl | ArgKind::AudioUrl | ArgKind::Text)
            && let Some(value) = arg.default.as_deref().and_then(|text| serde_json::from_str(text).ok())
        {
            args.insert(arg.name.clone(), value);
        }
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.0} KB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_lengths() {
        let kling = DurationRule::Choices { seconds: vec![5, 10] };
        assert_eq!(listener_length(&kling, 3.2), (5, ListenerFill::Trim));
        assert_eq!(listener_length(&kling, 5.0), (5, ListenerFill::Trim));
        assert_eq!(listener_length(&kling, 7.3), (10, ListenerFill::Trim));
        assert_eq!(listener_length(&kling, 10.0), (10, ListenerFill::Trim));
        assert_eq!(listener_length(&kling, 42.0), (10, ListenerFill::Loop));
        let range = DurationRule::Range { min: 3, max: 15 };
        assert_eq!(listener_length(&range, 2.1), (3, ListenerFill::Trim));
        assert_eq!(listener_length(&range, 7.3), (8, ListenerFill::Trim));
        assert_eq!(listener_length(&range, 20.0), (15, ListenerFill::Loop));
    }
}
