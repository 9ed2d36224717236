//! The catalog of models episodic can render with, and the prompt presets.
//!
//! This crate is pure data: endpoint ids, kinds, tiers, prices (each with the date and source it was
//! read from), output sizes, frame rates, duration rules, media limits and argument names for every
//! model the production notes name. It performs no I/O: a user price file is parsed by the caller and
//! handed to [`Catalog::apply_price_overrides`]. ElevenLabs' speech models, priced per character,
//! are in [`VOICE_MODELS`].

mod aspect;
mod builtin;
mod limits;
mod model;
mod preset;
mod price;
mod suggest;
mod voice;

pub use aspect::{AspectRatio, OutputSize, Resolution};
pub use limits::{AudioFormat, AudioLimits, DurationRule, ImageFormat, ImageLimits};
pub use model::{ArgKind, ArgSource, ArgSpec, Model, ModelKind, Tier};
pub use preset::{PRESETS, Preset};
pub use price::{Price, PriceOverride, Usd};
pub use suggest::closest;
pub use voice::{
    DEFAULT_VOICE_MODEL, SPEAKING_RATE_CHARS_PER_SECOND, SPEECH_OUTPUT_FORMAT, VOICE_MODELS, VoiceModel,
    VoiceSetting, billed_characters, estimated_seconds, spoken_text, voice_model,
};

use std::collections::BTreeMap;

/// Every model episodic knows, looked up by short name or fal endpoint id.
#[derive(Debug, Clone)]
pub struct Catalog {
    models: Vec<Model>,
}

/// What can go wrong when a user adjusts the catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A price file names a model the catalog does not have.
    #[error("the price file names `{name}`, which is not a model in the catalog")]
    UnknownModel {
        /// The name as written in the price file.
        name: String,
        /// The closest known name, if any is close.
        suggestion: Option<String>,
    },
    /// A price in the price file is negative or not a number.
    #[error("the price file gives `{name}` the price {value}, which is not a price per second")]
    InvalidPrice {
        /// The model name.
        name: String,
        /// The offending value.
        value: f64,
    },
}

impl Catalog {
    /// The built-in catalog, as read from the production notes and fal's published schemas.
    pub fn builtin() -> Self {
        Self { models: builtin::models() }
    }

    /// All models, in display order.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// Finds a model by its short name (`kling-avatar-v2-pro`) or its fal endpoint id.
    pub fn get(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|model| model.name == name || model.endpoint == name)
    }

    /// The avatar model used for a tier when a manifest names none.
    pub fn default_avatar(&self, tier: Tier) -> &Model {
        let name = match tier {
            Tier::Pro => builtin::AVATAR_PRO,
            Tier::Standard => builtin::AVATAR_STANDARD,
        };
        self.require(name)
    }

    /// The image-to-video model used for silent listener clips when a manifest names none.
    pub fn default_listener(&self) -> &Model {
        self.require(builtin::LISTENER)
    }

    /// The standard-tier avatar that `--draft` swaps in for any avatar.
    pub fn draft_avatar(&self) -> &Model {
        self.require(builtin::AVATAR_STANDARD)
    }

    /// All names a user may write for a model: short names and endpoint ids.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.iter().flat_map(|model| [model.name.as_str(), model.endpoint.as_str()])
    }

    /// Replaces prices with those from a user's price file, keyed by model name or endpoint id.
    ///
    /// Checks every entry before changing anything, so a bad file leaves the catalog as it was.
    pub fn apply_price_overrides(
        &mut self,
        overrides: &BTreeMap<String, PriceOverride>,
    ) -> Result<(), CatalogError> {
        let mut resolved = Vec::with_capacity(overrides.len());
        for (name, price) in overrides {
            let Some(index) =
                self.models.iter().position(|model| model.name == *name || model.endpoint == *name)
            else {
                return Err(CatalogError::UnknownModel {
                    name: name.clone(),
                    suggestion: closest(name, self.names()),
                });
            };
            for value in [Some(price.per_second), price.with_audio, price.voice_control].into_iter().flatten()
            {
                if !value.is_finite() || value < 0.0 {
                    return Err(CatalogError::InvalidPrice { name: name.clone(), value });
                }
            }
            resolved.push((index, price));
        }
        for (index, price) in resolved {
            self.models[index].price.apply(price);
        }
        Ok(())
    }

    fn require(&self, name: &str) -> &Model {
        // The built-in table is checked by a unit test to hold every default it names.
        self.get(name).unwrap_or(&self.models[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_exist() {
        let catalog = Catalog::builtin();
        for name in [builtin::AVATAR_PRO, builtin::AVATAR_STANDARD, builtin::LISTENER] {
            assert!(catalog.get(name).is_some(), "{name} missing");
        }
        assert_eq!(catalog.default_avatar(Tier::Pro).name, "kling-avatar-v2-pro");
        assert_eq!(catalog.default_listener().kind, ModelKind::ImageToVideo);
    }

    #[test]
    fn lookup_by_endpoint_id() {
        let catalog = Catalog::builtin();
        let model = catalog.get("fal-ai/kling-video/ai-avatar/v2/pro").map(|m| &m.name);
        assert_eq!(model.map(String::as_str), Some("kling-avatar-v2-pro"));
    }

    #[test]
    fn suggests_close_names() {
        let catalog = Catalog::builtin();
        assert_eq!(closest("kling-avatar-v3-pro", catalog.names()).as_deref(), Some("kling-avatar-v2-pro"));
        assert_eq!(closest("zzzz", catalog.names()), None);
    }

    #[test]
    fn price_override_replaces_and_keeps_source() {
        let mut catalog = Catalog::builtin();
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "kling-avatar-v2-pro".to_owned(),
            PriceOverride {
                per_second: 0.2,
                with_audio: None,
                voice_control: None,
                as_of: Some("2026-11-20".to_owned()),
                source: Some("our invoice".to_owned()),
            },
        );
        catalog.apply_price_overrides(&overrides).expect("valid override");
        let model = catalog.get("kling-avatar-v2-pro").expect("model");
        assert_eq!(model.cost(60.0, false), Usd::from_micros(12_000_000));
        assert_eq!(model.price.as_of, "2026-11-20");
        assert_eq!(model.price.source, "our invoice");
    }

    #[test]
    fn price_override_rejects_unknown_and_negative() {
        let mut catalog = Catalog::builtin();
        let mut overrides = BTreeMap::new();
        overrides.insert("kling-avatar-v3-pro".to_owned(), PriceOverride::per_second(0.1));
        let err = catalog.apply_price_overrides(&overrides).unwrap_err();
        assert!(matches!(err, CatalogError::UnknownModel { suggestion: Some(_), .. }));

        let mut overrides = BTreeMap::new();
        overrides.insert("kling-avatar-v2-pro".to_owned(), PriceOverride::per_second(-1.0));
        let err = catalog.apply_price_overrides(&overrides).unwrap_err();
        assert!(matches!(err, CatalogError::InvalidPrice { .. }));
        // Nothing changed.
        let model = catalog.get("kling-avatar-v2-pro").expect("model");
        assert_eq!(model.price.per_second, Usd::from_micros(115_000));
    }
}
