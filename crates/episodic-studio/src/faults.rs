//! Seeded fault injection: the same seed and the same sequence of requests give the same faults.

use crate::config::{FaultConfig, FiveXxStyle};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Serve it normally.
    None,
    /// Answer 429.
    RateLimited,
    /// Answer a 5xx: the status and whether it looks like the ingress proxy's.
    ServerError { status: u16, ingress: bool },
    /// Close the connection without a response.
    Drop,
}

/// Draws faults from a seeded RNG.
pub(crate) struct FaultPlan {
    config: FaultConfig,
    rng: StdRng,
    render_rng: StdRng,
}

impl FaultPlan {
    pub(crate) fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        let render_rng = StdRng::seed_from_u64(config.seed.wrapping_add(0x5eed));
        Self { config, rng, render_rng }
    }

    /// Whether any fault can happen at all (so a clean studio draws nothing).
    pub(crate) fn active(&self) -> bool {
        self.config.rate_429 > 0.0 || self.config.rate_5xx > 0.0 || self.config.drop_rate > 0.0
    }

    /// The fault for the next request. One draw per request keeps the sequence reproducible.
    pub(crate) fn next(&mut self) -> Fault {
        if !self.active() {
            return Fault::None;
        }
        let draw: f64 = self.rng.random();
        let pick: u32 = self.rng.random_range(0..6);
        let drop = self.config.drop_rate;
        let limited = drop + self.config.rate_429;
        let failed = limited + self.config.rate_5xx;
        if draw < drop {
            Fault::Drop
        } else if draw < limited {
            Fault::RateLimited
        } else if draw < failed {
            let ingress = match self.config.style_5xx {
                FiveXxStyle::Ingress => true,
                FiveXxStyle::App => false,
                FiveXxStyle::Mixed => pick.is_multiple_of(2),
            };
            let status =
                if ingress { [502, 503, 504][(pick % 3) as usize] } else { [500, 503][(pick % 2) as usize] };
            Fault::ServerError { status, ingress }
        } else {
            Fault::None
        }
    }

    /// Whether the next render fails at the runner. Drawn from its own stream so that HTTP faults
    /// stay reproducible whatever the renders do.
    pub(crate) fn render_fails(&mut self) -> bool {
        self.config.render_failure_rate > 0.0
            && self.render_rng.random::<f64>() < self.config.render_failure_rate
    }

    /// `Retry-After` to send with a 429.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        self.config.retry_after_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64) -> FaultConfig {
        FaultConfig { seed, rate_429: 0.3, rate_5xx: 0.1, drop_rate: 0.05, ..FaultConfig::default() }
    }

    #[test]
    fn same_seed_same_faults() {
        let draw = |seed| {
            let mut plan = FaultPlan::new(config(seed));
            (0..200).map(|_| plan.next()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn rates_are_roughly_honoured() {
        let mut plan = FaultPlan::new(config(1));
        let faults: Vec<Fault> = (0..10_000).map(|_| plan.next()).collect();
        let share = |f: fn(&Fault) -> bool| faults.iter().filter(|x| f(x)).count() as f64 / 10_000.0;
        assert!((share(|f| *f == Fault::RateLimited) - 0.3).abs() < 0.02);
        assert!((share(|f| matches!(f, Fault::ServerError { .. })) - 0.1).abs() < 0.02);
        assert!((share(|f| *f == Fault::Drop) - 0.05).abs() < 0.01);
    }

    #[test]
    fn a_clean_studio_injects_nothing() {
        let mut plan = FaultPlan::new(FaultConfig::default());
        assert!((0..100).all(|_| plan.next() == Fault::None));
    }
}
