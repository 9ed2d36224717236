//! The built-in model table.
//!
//! Sources, in order of trust: fal's published schemas and price pages as summarised in
//! `fal-protocol.md` §7 (dated 2026-08) or read on fal's model pages (`llms.txt`, dated when
//! read), then the production notes `kling-avatar-api.md` (2026-02-23/24). Where they disagree
//! the newer wins; every price keeps its date and source, each avatar's cap names its source in
//! `caveats` ("cap: …"), and whatever no source confirms is listed there too.

use crate::{
    ArgKind, ArgSource, ArgSpec, AudioFormat, AudioLimits, DurationRule, ImageFormat, ImageLimits, Model,
    ModelKind, OutputSize, Price, Tier, Usd,
};

pub(crate) const AVATAR_PRO: &str = "kling-avatar-v2-pro";
pub(crate) const AVATAR_STANDARD: &str = "kling-avatar-v2-standard";
pub(crate) const LISTENER: &str = "kling-i2v-v2.6-pro";

const NOTES: &str = "production notes (kling-avatar-api.md)";
const FAL_O3: &str = "fal O3 text-to-video pages via fal-protocol.md §7.6-7.7";
const FAL_V3: &str = "fal v3 text-to-video pages via fal-protocol.md §7.8";
const KLING_NEGATIVE: &str = "\"blur, distort, and low quality\"";
const FAL_OMNIHUMAN: &str = "fal's OmniHuman v1.5 page (fal.ai/models/fal-ai/bytedance/omnihuman/v1.5/llms.txt, read 2026-11-30) and the notes' A/B test of 2026-02-24";
const FAL_STABLE_AVATAR: &str =
    "fal's Stable Avatar page (fal.ai/models/fal-ai/stable-avatar/llms.txt, read 2026-11-30)";

pub(crate) fn models() -> Vec<Model> {
    vec![
        avatar_kling(
            AVATAR_PRO,
            "fal-ai/kling-video/ai-avatar/v2/pro",
            "Kling AI Avatar v2 Pro",
            Tier::Pro,
            0.115,
            OutputSize::P1080,
        ),
        avatar_kling(
            AVATAR_STANDARD,
            "fal-ai/kling-video/ai-avatar/v2/standard",
            "Kling AI Avatar v2 Standard",
            Tier::Standard,
            0.056,
            OutputSize::P720,
        ),
        Model {
            name: LISTENER.into(),
            endpoint: "fal-ai/kling-video/v2.6/pro/image-to-video".into(),
            title: "Kling Video v2.6 Pro image-to-video".into(),
            kind: ModelKind::ImageToVideo,
            tier: Tier::Pro,
            price: price(0.07, Some(0.14), None, "2026-02-23", NOTES),
            output: OutputSize::P1080,
            fps: 24,
            duration: DurationRule::Choices { seconds: vec![5, 10] },
            image: Some(image_limits()),
            audio: None,
            args: vec![
                arg("prompt", ArgKind::Text, true, None),
                arg("start_image_url", ArgKind::ImageUrl, true, None),
                arg("duration", choice(&["5", "10"]), false, Some("\"5\"")),
                arg("negative_prompt", ArgKind::Text, false, Some(KLING_NEGATIVE)),
                arg("generate_audio", ArgKind::Bool, false, Some("true")),
                arg("voice_ids", ArgKind::TextList, false, None),
                arg("end_image_url", ArgKind::ImageUrl, false, None),
                notes_only("cfg_scale", ArgKind::Number { min: 0.0, max: 1.0 }, Some("0.5")),
            ],
            caveats: vec![
                "fps not published; 24 assumed".into(),
                "generate_audio defaults to true at fal: episodic always sends it".into(),
            ],
        },
        t2v(
            "kling-o3-standard-t2v",
            "fal-ai/kling-video/o3/standard/text-to-video",
            "Kling O3 Standard text-to-video",
            Tier::Standard,
            price(0.084, Some(0.112), None, "2026-08-22", FAL_O3),
            OutputSize::P720,
            false,
            false,
        ),
        t2v(
            "kling-o3-pro-t2v",
            "fal-ai/kling-video/o3/pro/text-to-video",
            "Kling O3 Pro text-to-video",
            Tier::Pro,
            price(0.112, Some(0.14), None, "2026-08-22", FAL_O3),
            OutputSize::P1080,
            false,
            false,
        ),
        t2v(
            "kling-v3-standard-t2v",
            "fal-ai/kling-video/v3/standard/text-to-video",
            "Kling V3 Standard text-to-video",
            Tier::Standard,
            price(0.084, Some(0.126), Some(0.154), "2026-08-23", FAL_V3),
            OutputSize::P720,
            true,
            true,
        ),
        Model {
            name: "omnihuman-v1.5".into(),
            endpoint: "fal-ai/bytedance/omnihuman/v1.5".into(),
            title: "ByteDance OmniHuman v1.5".into(),
            kind: ModelKind::Avatar,
            tier: Tier::Pro,
            price: price(0.16, None, None, "2026-11-30", FAL_OMNIHUMAN),
            output: OutputSize::P1080,
            fps: 25,
            duration: DurationRule::FollowsAudio { max_seconds: 30.0 },
            image: Some(image_limits()),
            audio: Some(audio_limits(30.0)),
            args: vec![
                arg("image_url", ArgKind::ImageUrl, true, None),
                arg("audio_url", ArgKind::AudioUrl, true, None),
                arg("prompt", ArgKind::Text, false, None),
                arg("mask_url", ArgKind::ImageUrl, false, None),
                arg("resolution", choice(&["720p", "1080p"]), false, Some("\"1080p\"")),
                arg("turbo_mode", ArgKind::Bool, false, Some("false")),
            ],
            caveats: vec![
                "cap: audio under 30 s at 1080p, under 60 s at 720p (fal's schema, fal-protocol.md §7.3, and its model page); episodic renders 1080p and cuts longer lines at their pauses".into(),
            ],
        },
        Model {
            name: "creatify-aurora".into(),
            endpoint: "fal-ai/creatify/aurora".into(),
            title: "Creatify Aurora".into(),
            kind: ModelKind::Avatar,
            tier: Tier::Pro,
            price: price(
                0.14,
                None,
                None,
                "2026-02-24",
                "production notes quote $0.10-0.14/s; the top of the range is used",
            ),
            output: OutputSize::P720,
            fps: 24,
            duration: DurationRule::FollowsAudio { max_seconds: 60.0 },
            image: Some(image_limits()),
            audio: Some(audio_limits(60.0)),
            args: vec![
                arg("image_url", ArgKind::ImageUrl, true, None),
                arg("audio_url", ArgKind::AudioUrl, true, None),
                arg("prompt", ArgKind::Text, false, None),
                arg("resolution", choice(&["480p", "720p"]), false, Some("\"720p\"")),
                arg("guidance_scale", ArgKind::Number { min: 0.0, max: 10.0 }, false, Some("1")),
                arg("audio_guidance_scale", ArgKind::Number { min: 0.0, max: 10.0 }, false, Some("2")),
            ],
            caveats: vec![
                "the notes name the endpoint `creatify/aurora`; fal's schema uses `fal-ai/creatify/aurora`"
                    .into(),
                "cap: ~60 s, approximate (the notes' A/B table of 2026-02-24); fal's schema states none".into(),
            ],
        },
        Model {
            name: "veed-fabric-1.0".into(),
            endpoint: "veed/fabric-1.0".into(),
            title: "VEED Fabric 1.0".into(),
            kind: ModelKind::Avatar,
            tier: Tier::Standard,
            price: price(
                0.15,
                None,
                None,
                "2026-02-24",
                "production notes quote $0.08/s at 480p and up to $0.15/s; 720p is rendered",
            ),
            output: OutputSize::P720,
            fps: 25,
            duration: DurationRule::FollowsAudio { max_seconds: 30.0 },
            image: Some(image_limits()),
            audio: Some(audio_limits(30.0)),
            args: vec![
                arg("image_url", ArgKind::ImageUrl, true, None),
                arg("audio_url", ArgKind::AudioUrl, true, None),
                arg("resolution", choice(&["720p", "480p"]), true, Some("\"720p\"")),
            ],
            caveats: vec![
                "fps not published; 25 assumed".into(),
                "cap: 30 s (the notes' A/B table of 2026-02-24); fal's schema (fal-protocol.md §7.4) states none".into(),
            ],
        },
        Model {
            name: "stable-avatar".into(),
            endpoint: "fal-ai/stable-avatar".into(),
            title: "Stable Avatar".into(),
            kind: ModelKind::Avatar,
            tier: Tier::Standard,
            price: price(0.10, None, None, "2026-11-30", FAL_STABLE_AVATAR),
            output: OutputSize::P720,
            fps: 25,
            duration: DurationRule::FollowsAudio { max_seconds: 300.0 },
            image: Some(image_limits()),
            audio: Some(audio_limits(300.0)),
            args: vec![
                arg("image_url", ArgKind::ImageUrl, true, None),
                arg("audio_url", ArgKind::AudioUrl, true, None),
                arg("prompt", ArgKind::Text, true, None),
                arg("aspect_ratio", choice(&["16:9", "1:1", "9:16", "auto"]), false, Some("\"auto\"")),
                arg("guidance_scale", ArgKind::Number { min: 0.0, max: 20.0 }, false, Some("5")),
            ],
            caveats: vec![
                "cap: \"up to five minutes long\" (fal's page); billed per generated second with a minimum of 4 s".into(),
                "output size and fps not published; 720p and 25 fps assumed".into(),
                "image and audio file limits not published; the Kling avatar's (512 px, 2 s, 5 MB) are applied".into(),
                "guidance_scale's range not published; 0-20 assumed around fal's default of 5".into(),
                "prompt is required by fal's schema: give the segment or its speaker a prompt".into(),
            ],
        },
    ]
}

#[allow(clippy::too_many_arguments)]
fn t2v(
    name: &str,
    endpoint: &str,
    title: &str,
    tier: Tier,
    price: Price,
    output: OutputSize,
    audio_default: bool,
    negative_and_cfg: bool,
) -> Model {
    let mut args = vec![
        arg("prompt", ArgKind::Text, true, None),
        arg(
            "duration",
            choice(&["3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"]),
            false,
            Some("\"5\""),
        ),
        arg("aspect_ratio", choice(&["16:9", "9:16", "1:1"]), false, Some("\"16:9\"")),
        arg("generate_audio", ArgKind::Bool, false, Some(if audio_default { "true" } else { "false" })),
        arg("shot_type", choice(&["customize", "intelligent"]), false, Some("\"customize\"")),
    ];
    if negative_and_cfg {
        args.push(arg("negative_prompt", ArgKind::Text, false, Some(KLING_NEGATIVE)));
        args.push(arg("cfg_scale", ArgKind::Number { min: 0.0, max: 1.0 }, false, Some("0.5")));
    }
    Model {
        name: name.into(),
        endpoint: endpoint.into(),
        title: title.into(),
        kind: ModelKind::TextToVideo,
        tier,
        price,
        output,
        fps: 24,
        duration: DurationRule::Range { min: 3, max: 15 },
        image: None,
        audio: None,
        args,
        caveats: vec![
            format!("output size not published by fal; {output} assumed from Kling's std/pro modes"),
            "fps not published; 24 assumed".into(),
        ],
    }
}

fn avatar_kling(name: &str, endpoint: &str, title: &str, tier: Tier, rate: f64, output: OutputSize) -> Model {
    Model {
        name: name.into(),
        endpoint: endpoint.into(),
        title: title.into(),
        kind: ModelKind::Avatar,
        tier,
        price: price(rate, None, None, "2026-02-23", NOTES),
        output,
        fps: 30,
        duration: DurationRule::FollowsAudio { max_seconds: 60.0 },
        image: Some(image_limits()),
        audio: Some(audio_limits(60.0)),
        args: vec![
            arg("image_url", ArgKind::ImageUrl, true, None),
            arg("audio_url", ArgKind::AudioUrl, true, None),
            arg("prompt", ArgKind::Text, false, Some("\".\"")),
            notes_only("negative_prompt", ArgKind::Text, Some(KLING_NEGATIVE)),
            notes_only("cfg_scale", ArgKind::Number { min: 0.0, max: 1.0 }, Some("0.5")),
            notes_only("aspect_ratio", choice(&["16:9", "9:16", "1:1"]), Some("\"16:9\"")),
            notes_only("duration", choice(&["5", "10"]), Some("\"5\"")),
        ],
        caveats: vec![
            "framing follows the input image; compose fits every clip to the canvas".into(),
            "cap: 2-60 s of audio, at most 5 MB (the notes, matching Kling's own avatar API: fal-protocol.md §7)".into(),
            "fps: 30 measured in the notes' A/B test (their model table says 48 for Pro)".into(),
        ],
    }
}

fn price(
    per_second: f64,
    with_audio: Option<f64>,
    voice_control: Option<f64>,
    as_of: &str,
    source: &str,
) -> Price {
    Price {
        per_second: Usd::from_dollars(per_second),
        with_audio: with_audio.map(Usd::from_dollars),
        voice_control: voice_control.map(Usd::from_dollars),
        as_of: as_of.into(),
        source: source.into(),
    }
}

fn image_limits() -> ImageLimits {
    ImageLimits {
        formats: vec![ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp],
        min_width: 512,
        min_height: 512,
    }
}

fn audio_limits(max_seconds: f64) -> AudioLimits {
    AudioLimits {
        formats: vec![AudioFormat::Mp3, AudioFormat::Wav, AudioFormat::Aac],
        // "max 5MB" in the notes; read as decimal megabytes, the stricter reading.
        max_bytes: 5_000_000,
        min_seconds: 2.0,
        max_seconds,
    }
}

fn choice(values: &[&str]) -> ArgKind {
    ArgKind::Choice { values: values.iter().map(|value| (*value).to_owned()).collect() }
}

fn arg(name: &str, kind: ArgKind, required: bool, default: Option<&str>) -> ArgSpec {
    ArgSpec {
        name: name.into(),
        kind,
        required,
        default: default.map(str::to_owned),
        source: ArgSource::Schema,
    }
}

fn notes_only(name: &str, kind: ArgKind, default: Option<&str>) -> ArgSpec {
    ArgSpec {
        name: name.into(),
        kind,
        required: false,
        default: default.map(str::to_owned),
        source: ArgSource::NotesOnly,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Catalog, ModelKind, Usd};

    fn cost(name: &str, seconds: f64) -> Usd {
        Catalog::builtin().get(name).expect("model in catalog").cost(seconds, false)
    }

    /// The notes' cost calculator, row by row.
    #[test]
    fn notes_cost_calculator() {
        assert_eq!(cost("kling-avatar-v2-pro", 60.0), Usd::from_dollars(6.90));
        assert_eq!(cost("kling-avatar-v2-standard", 60.0), Usd::from_dollars(3.36));
        assert_eq!(cost("kling-avatar-v2-standard", 10.0), Usd::from_dollars(0.56));
        // Dual-anchor segment of 7 s: speaker $0.805 + listener $0.49 = ~$1.29.
        let dual = cost("kling-avatar-v2-pro", 7.0) + cost("kling-i2v-v2.6-pro", 7.0);
        assert_eq!(dual, Usd::from_dollars(1.295));
        assert_eq!(dual.to_string(), "$1.30");
    }

    #[test]
    fn audio_rates() {
        let catalog = Catalog::builtin();
        let i2v = catalog.get("kling-i2v-v2.6-pro").expect("i2v");
        assert_eq!(i2v.cost(5.0, true), Usd::from_dollars(0.70));
        let o3 = catalog.get("kling-o3-pro-t2v").expect("o3 pro");
        assert_eq!(o3.cost(5.0, true), Usd::from_dollars(0.70));
        assert_eq!(o3.cost(5.0, false), Usd::from_dollars(0.56));
    }

    #[test]
    fn every_model_is_complete() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.models().len(), 10);
        for model in catalog.models() {
            assert!(model.price.per_second > Usd::ZERO, "{} has no price", model.name);
            assert_eq!(model.price.as_of.len(), 10, "{} price date", model.name);
            assert!(!model.price.source.is_empty());
            assert!(model.fps > 0);
            assert!(model.schema_arg("prompt").is_some() || model.name == "veed-fabric-1.0");
            match model.kind {
                ModelKind::Avatar => {
                    assert!(model.image_arg().is_some() && model.audio_arg().is_some(), "{}", model.name);
                    assert!(model.audio.is_some() && model.image.is_some());
                    // Each cap says where it comes from.
                    assert!(model.caveats.iter().any(|caveat| caveat.starts_with("cap: ")), "{}", model.name);
                }
                ModelKind::ImageToVideo => assert!(model.image_arg().is_some()),
                ModelKind::TextToVideo => assert!(model.image_arg().is_none()),
            }
        }
    }

    #[test]
    fn v26_image_key_is_start_image_url() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.default_listener().image_arg(), Some("start_image_url"));
        assert_eq!(catalog.get("kling-avatar-v2-pro").and_then(|m| m.image_arg()), Some("image_url"));
    }
}
