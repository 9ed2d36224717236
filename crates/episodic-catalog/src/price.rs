//! Money and prices. Amounts are whole micro-dollars so that totals equal the sum of their parts.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

/// An amount of US dollars, held as whole micro-dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Usd(u64);

impl Usd {
    /// Zero dollars.
    pub const ZERO: Usd = Usd(0);

    /// An amount from micro-dollars.
    pub const fn from_micros(micros: u64) -> Self {
        Usd(micros)
    }

    /// An amount from dollars, rounded to the nearest micro-dollar; negative and non-finite values are zero.
    pub fn from_dollars(dollars: f64) -> Self {
        if dollars.is_finite() && dollars > 0.0 {
            Usd((dollars * 1_000_000.0).round() as u64)
        } else {
            Usd::ZERO
        }
    }

    /// The amount in micro-dollars.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// The amount in dollars (for display and JSON; sums are done on micros).
    pub fn dollars(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    /// This per-second rate applied to a length in seconds, rounded to the nearest micro-dollar.
    pub fn per_second_times(self, seconds: f64) -> Usd {
        if seconds.is_finite() && seconds > 0.0 {
            Usd((self.0 as f64 * seconds).round() as u64)
        } else {
            Usd::ZERO
        }
    }

    /// `self - other`, or zero when `other` is larger.
    pub fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0))
    }
}

impl Add for Usd {
    type Output = Usd;
    fn add(self, rhs: Usd) -> Usd {
        Usd(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Usd {
    fn add_assign(&mut self, rhs: Usd) {
        *self = *self + rhs;
    }
}

impl Sub for Usd {
    type Output = Usd;
    fn sub(self, rhs: Usd) -> Usd {
        self.saturating_sub(rhs)
    }
}

impl Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Add::add)
    }
}

impl fmt::Display for Usd {
    /// Dollars with cents; amounts under a cent keep three decimals so they do not read as free.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Integer rounding, half up, so that $1.295 reads $1.30 whatever f64 makes of it.
        if self.0 > 0 && self.0 < 10_000 {
            let mills = (self.0 + 500) / 1_000;
            write!(f, "${}.{:03}", mills / 1_000, mills % 1_000)
        } else {
            let cents = (self.0 + 5_000) / 10_000;
            write!(f, "${}.{:02}", cents / 100, cents % 100)
        }
    }
}

/// What a model costs per second of output, and when and where that price was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Price {
    /// Per second of output without generated audio (the only rate for audio-driven avatars).
    pub per_second: Usd,
    /// Per second when the model also generates audio, where it can.
    pub with_audio: Option<Usd>,
    /// Per second with audio and voice control, where listed.
    pub voice_control: Option<Usd>,
    /// The date the price was read (YYYY-MM-DD).
    pub as_of: String,
    /// Where the price was read.
    pub source: String,
}

impl Price {
    /// The rate that applies to a render that does or does not generate audio.
    pub fn rate(&self, generate_audio: bool) -> Usd {
        if generate_audio { self.with_audio.unwrap_or(self.per_second) } else { self.per_second }
    }

    pub(crate) fn apply(&mut self, update: &PriceOverride) {
        self.per_second = Usd::from_dollars(update.per_second);
        if let Some(rate) = update.with_audio {
            self.with_audio = Some(Usd::from_dollars(rate));
        }
        if let Some(rate) = update.voice_control {
            self.voice_control = Some(Usd::from_dollars(rate));
        }
        self.as_of = update.as_of.clone().unwrap_or_else(|| "user price file".to_owned());
        self.source = update.source.clone().unwrap_or_else(|| "user price file".to_owned());
    }
}

/// One entry of a user's price file: new rates in dollars per second.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    /// Dollars per second of output (without generated audio).
    pub per_second: f64,
    /// Dollars per second with generated audio.
    #[serde(default)]
    pub with_audio: Option<f64>,
    /// Dollars per second with audio and voice control.
    #[serde(default)]
    pub voice_control: Option<f64>,
    /// When this price was read.
    #[serde(default)]
    pub as_of: Option<String>,
    /// Where this price was read.
    #[serde(default)]
    pub source: Option<String>,
}

impl PriceOverride {
    /// An override of the base rate only.
    pub fn per_second(dollars: f64) -> Self {
        Self { per_second: dollars, with_audio: None, voice_control: None, as_of: None, source: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_rounds_to_cents_but_never_hides_a_small_cost() {
        assert_eq!(Usd::from_dollars(6.9).to_string(), "$6.90");
        assert_eq!(Usd::from_dollars(0.004).to_string(), "$0.004");
        assert_eq!(Usd::ZERO.to_string(), "$0.00");
    }

    #[test]
    fn sums_are_exact() {
        let parts = [Usd::from_dollars(0.1), Usd::from_dollars(0.2), Usd::from_dollars(0.3)];
        assert_eq!(parts.iter().copied().sum::<Usd>(), Usd::from_dollars(0.6));
    }

    #[test]
    fn per_second_rounds_to_micros() {
        let rate = Usd::from_dollars(0.115);
        assert_eq!(rate.per_second_times(7.0), Usd::from_micros(805_000));
        assert_eq!(rate.per_second_times(-1.0), Usd::ZERO);
        assert_eq!(rate.per_second_times(f64::NAN), Usd::ZERO);
    }
}
