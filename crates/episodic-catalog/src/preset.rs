//! Prompt presets from the production notes' category templates.

use serde::Serialize;

/// A named pair of prompts: how a character speaks, and how it listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preset {
    /// The manifest name: `gaming-news`.
    pub name: &'static str,
    /// What it is for.
    pub summary: &'static str,
    /// The prompt for the character's speaking (avatar) clips.
    pub speaker: &'static str,
    /// The prompt for the character's silent listening (image-to-video) clips.
    pub listener: &'static str,
    /// Whether the speaker prompt asks for the expressiveness that only the Pro tier delivers.
    pub needs_pro: bool,
}

/// Every preset.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "gaming-news",
        summary: "Energetic YouTuber presenter (the notes' proven expressiveness prompt)",
        speaker: "Animated Pixar character speaking enthusiastically to camera. Expressive digital LED eyes that blink naturally, widen with excitement, and squint when smiling. Lively head movements and natural micro-expressions. Energetic YouTuber presentation style.",
        listener: "Animated Pixar character seated at desk listening attentively. Subtle nodding, natural blinking, occasional smile. Relaxed but engaged.",
        needs_pro: true,
    },
    Preset {
        name: "reaction",
        summary: "A character reacting while someone else speaks",
        speaker: "Animated Pixar character reacting to camera with surprise and amusement. Natural blinking, expressive eyebrows. Relaxed but engaged.",
        listener: "Animated Pixar character seated at desk listening attentively. Subtle nodding, natural blinking, occasional smile. Relaxed but engaged.",
        needs_pro: false,
    },
    Preset {
        name: "corporate",
        summary: "Professional trainer",
        speaker: "Professional trainer with clear articulation, calm confident posture, maintain eye contact for engagement.",
        listener: "Professional colleague listening attentively, calm posture, occasional nod, steady eye contact.",
        needs_pro: false,
    },
    Preset {
        name: "educational",
        summary: "Patient teacher",
        speaker: "Patient, encouraging teacher with thoughtful pauses after complex info, subtle nods when transitioning topics.",
        listener: "Attentive student listening thoughtfully, subtle nods, natural blinking.",
        needs_pro: false,
    },
    Preset {
        name: "cartoon",
        summary: "2D animation style",
        speaker: "Expressive, exaggerated movements typical of 2D animation, clean line preservation.",
        listener: "Expressive 2D cartoon character listening, gentle bobbing, exaggerated blinks, clean line preservation.",
        needs_pro: false,
    },
];

impl Preset {
    /// Finds a preset by name.
    pub fn get(name: &str) -> Option<&'static Preset> {
        PRESETS.iter().find(|preset| preset.name == name)
    }
}
