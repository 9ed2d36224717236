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
    /// Close the connection without a response, before routing: nothing happened.
    Drop,
    /// Route and handle the request (a submit is queued, an upload stored), then close the
    /// connection without writing the response: the answer is lost.
    DropAfter,
}

/// What happens to one successful render's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RenderFaults {
    /// The runner fails (`Runner disconnected`).
    pub(crate) fails: bool,
    /// The stored video is cut short.
    pub(crate) truncated: bool,
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

    /// The fault for the next request. One draw per request keeps the sequence reproducible; a
    /// drop draws once more, to pick before or after handling.
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
            let after: f64 = self.rng.random();
            if after < self.config.drop_after_share { Fault::DropAfter } else { Fault::Drop }
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

    /// Whether the next render fails at the runner, and whether its output is cut short if it
    /// succeeds. Drawn from their own stream so that HTTP faults stay reproducible whatever the
    /// renders do, and both at the start of a render so that the order in which concurrent
    /// renders finish does not change which ones are hit. A rate of zero draws nothing.
    pub(crate) fn render_faults(&mut self) -> RenderFaults {
        let fails = self.config.render_failure_rate > 0.0
            && self.render_rng.random::<f64>() < self.config.render_failure_rate;
        let truncated =
            self.config.truncate_rate > 0.0 && self.render_rng.random::<f64>() < self.config.truncate_rate;
        RenderFaults { fails, truncated }
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
        let dropped = share(|f| matches!(f, Fault::Drop | Fault::DropAfter));
        assert!((dropped - 0.05).abs() < 0.01);
        // Half of the drops, by default, lose the answer after handling.
        let after = share(|f| *f == Fault::DropAfter) / dropped;
        assert!((after - 0.5).abs() < 0.1, "{after}");
    }

    #[test]
    fn drop_after_share_picks_the_kind_of_drop() {
        let drops = |share| {
            let mut plan = FaultPlan::new(FaultConfig {
                seed: 2,
                drop_rate: 1.0,
                drop_after_share: share,
                ..FaultConfig::default()
            });
            (0..100).map(|_| plan.next()).collect::<Vec<_>>()
        };
        assert!(drops(0.0).iter().all(|f| *f == Fault::Drop));
        assert!(drops(1.0).iter().all(|f| *f == Fault::DropAfter));
    }

    #[test]
    fn truncation_is_drawn_from_the_render_stream() {
        let config = FaultConfig { seed: 4, truncate_rate: 0.5, ..FaultConfig::default() };
        let draw = || {
            let mut plan = FaultPlan::new(config.clone());
            (0..100).map(|_| plan.render_faults()).collect::<Vec<_>>()
        };
        let first = draw();
        assert_eq!(first, draw());
        let cut = first.iter().filter(|f| f.truncated).count();
        assert!((30..=70).contains(&cut), "{cut}");
        assert!(first.iter().all(|f| !f.fails));
        // HTTP faults do not move the render stream.
        let mut plan = FaultPlan::new(FaultConfig { drop_rate: 0.5, ..config.clone() });
        for _ in 0..10 {
            plan.next();
        }
        assert_eq!(plan.render_faults(), first[0]);
    }

    #[test]
    fn a_clean_studio_injects_nothing() {
        let mut plan = FaultPlan::new(FaultConfig::default());
        assert!((0..100).all(|_| plan.next() == Fault::None));
    }
}
