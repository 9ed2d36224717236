//! The voices and models the studio knows, as ElevenLabs lists them.

use episodic_elevenlabs::wire::{Language, Model, ModelRates};

/// A voice the studio speaks with: ElevenLabs' public id and name of a premade voice, and the
/// espeak-ng voice standing in for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudioVoice {
    /// The voice id a request names.
    pub id: &'static str,
    /// Its name at ElevenLabs.
    pub name: &'static str,
    /// The espeak-ng voice (`language+variant`) it is spoken with.
    pub espeak: &'static str,
}

/// The voices the studio knows; any other id is answered 404 `voice_not_found`. The ids are
/// those of ElevenLabs' premade voices, so a manifest written against the studio works at
/// ElevenLabs unchanged.
pub const STUDIO_VOICES: &[StudioVoice] = &[
    StudioVoice { id: "JBFqnCBsd6RMkjVDRZzb", name: "George", espeak: "en-gb+m3" },
    StudioVoice { id: "21m00Tcm4TlvDq8ikWAM", name: "Rachel", espeak: "en-us+f3" },
    StudioVoice { id: "EXAVITQu4vr4xnSDxMaL", name: "Sarah", espeak: "en-us+f2" },
    StudioVoice { id: "pNInz6obpgDQGcFmaJgB", name: "Adam", espeak: "en-us+m1" },
];

/// The espeak voice forced alignment measures words with.
pub(crate) const ALIGNMENT_VOICE: &str = "en-us";

/// The model used when a request names none (ElevenLabs' default since 2025-05).
pub(crate) const DEFAULT_MODEL: &str = "eleven_multilingual_v2";

/// A model: id, name, longest text, credits per character, whether `previous_text` and friends
/// are refused.
pub(crate) struct StudioModel {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) max_characters: usize,
    pub(crate) credits_per_character: f64,
    pub(crate) refuses_stitching: bool,
}

pub(crate) const MODELS: &[StudioModel] = &[
    StudioModel {
        id: "eleven_v3",
        name: "Eleven v3",
        max_characters: 5_000,
        credits_per_character: 1.0,
        refuses_stitching: true,
    },
    StudioModel {
        id: "eleven_multilingual_v2",
        name: "Eleven Multilingual v2",
        max_characters: 10_000,
        credits_per_character: 1.0,
        refuses_stitching: false,
    },
    StudioModel {
        id: "eleven_flash_v2_5",
        name: "Eleven Flash v2.5",
        max_characters: 40_000,
        credits_per_character: 0.5,
        refuses_stitching: false,
    },
    StudioModel {
        id: "eleven_turbo_v2_5",
        name: "Eleven Turbo v2.5",
        max_characters: 40_000,
        credits_per_character: 0.5,
        refuses_stitching: false,
    },
];

pub(crate) fn voice(id: &str) -> Option<&'static StudioVoice> {
    STUDIO_VOICES.iter().find(|v| v.id == id)
}

pub(crate) fn model(id: &str) -> Option<&'static StudioModel> {
    MODELS.iter().find(|m| m.id == id)
}

/// `GET /v1/models`.
pub(crate) fn listing() -> Vec<Model> {
    MODELS
        .iter()
        .map(|m| Model {
            model_id: m.id.to_owned(),
            name: Some(m.name.to_owned()),
            can_do_text_to_speech: Some(true),
            maximum_text_length_per_request: Some(m.max_characters as u64),
            token_cost_factor: Some(1.0),
            description: Some("Voiced by the local studio with espeak-ng.".to_owned()),
            languages: vec![Language { language_id: "en".to_owned(), name: "English".to_owned() }],
            model_rates: Some(ModelRates {
                character_cost_multiplier: m.credits_per_character,
                cost_discount_multiplier: None,
            }),
        })
        .collect()
}
