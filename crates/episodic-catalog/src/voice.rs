//! ElevenLabs' text-to-speech models: what a character costs, how long a request may be, which
//! voice settings each honours, and how long a line is expected to last once spoken.
//!
//! Sources: `elevenlabs-tts.md` (the wire reference: §1 limits, §5 credits per character, §6 what
//! eleven_v3 ignores) and ElevenLabs' API price list as summarised on 2026-06 ("Multilingual
//! v2/v3: $0.10 per 1,000 characters; Flash / Turbo: $0.05", the same rate on every plan). Credits
//! move between plans and over time (§5 saw 0.5 credit a character on a paid plan), so dollars per
//! character is an estimate; ElevenLabs' `character-cost` header says what was charged.

use crate::Usd;
use serde::Serialize;

/// The model a voice uses when the manifest names none.
pub const DEFAULT_VOICE_MODEL: &str = "eleven_v3";

/// The audio ElevenLabs is asked for: MP3, which every avatar model takes, at ElevenLabs' default
/// (and, per §1, the best quality that needs no higher plan).
pub const SPEECH_OUTPUT_FORMAT: &str = "mp3_44100_128";

/// How fast a voiced line is assumed to be spoken, in characters a second, audio tags left out.
///
/// An assumption, not a measurement of ElevenLabs: conversational English runs at about 150
/// words a minute, and an English word with its space is about 5.7 characters, which gives
/// 14.25 characters a second; rounded down to 14 so a long line is estimated a little long rather
/// than short (a render priced low is worse than one priced high). Only the estimate before the
/// audio exists uses it: the render is billed by the real length.
pub const SPEAKING_RATE_CHARS_PER_SECOND: f64 = 14.0;

/// One voice setting ElevenLabs' `voice_settings` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoiceSetting {
    /// How much the delivery may vary (0 creative … 1 robust); the main control of eleven_v3.
    Stability,
    /// How close to the original voice.
    SimilarityBoost,
    /// Style exaggeration.
    Style,
    /// Boosts likeness to the speaker.
    UseSpeakerBoost,
    /// Speaking speed, 0.7 to 1.2 (outside is a 400 `invalid_voice_settings`).
    Speed,
}

impl VoiceSetting {
    /// Every setting, in the order the manifest documents them.
    pub const ALL: [VoiceSetting; 5] = [
        VoiceSetting::Stability,
        VoiceSetting::SimilarityBoost,
        VoiceSetting::Style,
        VoiceSetting::UseSpeakerBoost,
        VoiceSetting::Speed,
    ];

    /// The key in the manifest and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            VoiceSetting::Stability => "stability",
            VoiceSetting::SimilarityBoost => "similarity_boost",
            VoiceSetting::Style => "style",
            VoiceSetting::UseSpeakerBoost => "use_speaker_boost",
            VoiceSetting::Speed => "speed",
        }
    }

    /// The values the setting takes, for numbers: inclusive bounds.
    pub fn range(self) -> Option<(f64, f64)> {
        match self {
            VoiceSetting::Stability | VoiceSetting::SimilarityBoost | VoiceSetting::Style => Some((0.0, 1.0)),
            VoiceSetting::Speed => Some((0.7, 1.2)),
            VoiceSetting::UseSpeakerBoost => None,
        }
    }
}

/// A text-to-speech model of ElevenLabs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceModel {
    /// The `model_id` sent: `eleven_v3`.
    pub id: &'static str,
    /// A human name.
    pub title: &'static str,
    /// Dollars per character of `text`, audio tags included.
    pub per_character: Usd,
    /// ElevenLabs credits per character (§5), for reading the quota.
    pub credits_per_character: f64,
    /// The most characters one request may carry.
    pub max_characters: usize,
    /// The settings the model acts on; others are accepted and ignored.
    pub honours: &'static [VoiceSetting],
    /// Whether `[whispers]`-style audio tags steer the delivery (other models read them aloud).
    pub audio_tags: bool,
    /// When the price was read.
    pub as_of: &'static str,
    /// Where the price and limits were read.
    pub source: &'static str,
}

impl VoiceModel {
    /// What voicing `characters` characters costs.
    pub fn cost(&self, characters: usize) -> Usd {
        Usd::from_micros(self.per_character.micros().saturating_mul(characters as u64))
    }
}

const PRICE_SOURCE: &str =
    "ElevenLabs API price list, $ per 1,000 characters on every plan; limits: elevenlabs-tts.md §1";
const PRICE_DATE: &str = "2026-06";

const ALL_SETTINGS: &[VoiceSetting] = &VoiceSetting::ALL;

/// Every ElevenLabs model the reference prices, the default first.
pub const VOICE_MODELS: &[VoiceModel] = &[
    VoiceModel {
        id: "eleven_v3",
        title: "Eleven v3",
        per_character: Usd::from_micros(100),
        credits_per_character: 1.0,
        max_characters: 5_000,
        // §1/§6: only stability matters; speed is accepted and ignored (measured).
        honours: &[VoiceSetting::Stability],
        audio_tags: true,
        as_of: PRICE_DATE,
        source: PRICE_SOURCE,
    },
    VoiceModel {
        id: "eleven_multilingual_v2",
        title: "Eleven Multilingual v2",
        per_character: Usd::from_micros(100),
        credits_per_character: 1.0,
        max_characters: 10_000,
        honours: ALL_SETTINGS,
        audio_tags: false,
        as_of: PRICE_DATE,
        source: PRICE_SOURCE,
    },
    VoiceModel {
        id: "eleven_flash_v2_5",
        title: "Eleven Flash v2.5",
        per_character: Usd::from_micros(50),
        credits_per_character: 0.5,
        max_characters: 40_000,
        honours: ALL_SETTINGS,
        audio_tags: false,
        as_of: PRICE_DATE,
        source: PRICE_SOURCE,
    },
    VoiceModel {
        id: "eleven_turbo_v2_5",
        title: "Eleven Turbo v2.5",
        per_character: Usd::from_micros(50),
        credits_per_character: 0.5,
        max_characters: 40_000,
        honours: ALL_SETTINGS,
        audio_tags: false,
        as_of: PRICE_DATE,
        source: PRICE_SOURCE,
    },
];

/// The ElevenLabs model with this `model_id`.
pub fn voice_model(id: &str) -> Option<&'static VoiceModel> {
    VOICE_MODELS.iter().find(|model| model.id == id)
}

/// The characters ElevenLabs counts and bills: every Unicode scalar of the text, tags included
/// (§5 assumes code points).
pub fn billed_characters(text: &str) -> usize {
    text.chars().count()
}

/// The text with `[audio tags]` taken out: what is heard as speech.
pub fn spoken_text(text: &str) -> String {
    let mut spoken = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        match rest[open..].find(']') {
            Some(close) => {
                spoken.push_str(&rest[..open]);
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    spoken.push_str(rest);
    spoken
}

/// How long a line is expected to last once voiced, in seconds: its spoken characters (tags
/// left out, runs of spaces counted once) at [`SPEAKING_RATE_CHARS_PER_SECOND`].
pub fn estimated_seconds(text: &str) -> f64 {
    let spoken = spoken_text(text);
    let characters = spoken.split_whitespace().map(|word| word.chars().count() + 1).sum::<usize>();
    characters.saturating_sub(1) as f64 / SPEAKING_RATE_CHARS_PER_SECOND
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_v3_at_ten_cents_a_thousand_characters() {
        let model = voice_model(DEFAULT_VOICE_MODEL).expect("default");
        assert_eq!(model.max_characters, 5_000);
        assert_eq!(model.cost(1_000), Usd::from_dollars(0.10));
        assert_eq!(voice_model("eleven_flash_v2_5").map(|m| m.cost(1_000)), Some(Usd::from_dollars(0.05)));
        assert!(voice_model("eleven_v4").is_none());
    }

    #[test]
    fn tags_are_billed_but_not_heard() {
        let line = "[whispers] Hi there.";
        assert_eq!(billed_characters(line), 20);
        assert_eq!(spoken_text(line), " Hi there.");
        assert_eq!(spoken_text("no [closing tag"), "no [closing tag");
        assert_eq!(billed_characters("café"), 4, "code points, not bytes");
    }

    #[test]
    fn a_line_lasts_its_spoken_characters_at_the_speaking_rate() {
        let words = "word ".repeat(28);
        // 28 words of 4 letters and 27 spaces between them.
        assert!((estimated_seconds(&words) - 139.0 / 14.0).abs() < 1e-9);
        assert_eq!(estimated_seconds("[laughs]"), 0.0);
        assert!((estimated_seconds("[sighs] Hi  there") - 8.0 / 14.0).abs() < 1e-9);
    }
}
