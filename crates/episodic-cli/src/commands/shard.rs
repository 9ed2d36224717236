//! `render --shard I/N`: which episodes of a batch this process takes, so an existing scheduler
//! (a Kubernetes Indexed Job, a CI matrix) splits a batch with no coordinator. An episode goes to
//! the shard its id hashes to (sha256, the first 8 bytes as a number, modulo N): every shard
//! computes the same answer from the id alone, whatever the order or number of manifests it is
//! given, and the shards of one batch partition it exactly.

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0 ≤ index < count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's shard, from 0 (as `JOB_COMPLETION_INDEX` counts).
    pub index: u32,
    /// How many shards split the batch.
    pub count: u32,
}

impl Shard {
    /// Whether the episode `id` falls to this shard.
    pub fn takes(&self, id: &str) -> bool {
        shard_of(id, self.count) == self.index
    }
}

/// The shard (of `count`) an episode id falls to.
pub fn shard_of(id: &str, count: u32) -> u32 {
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || format!("`{text}` is not a shard: expected I/N with 0 ≤ I < N, e.g. 0/4");
        let (index, count) = text.trim().split_once('/').ok_or_else(usage)?;
        let index: u32 = index.trim().parse().map_err(|_| usage())?;
        let count: u32 = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard given by `--shard`, or by `--shard-count N` with the index from
/// `JOB_COMPLETION_INDEX` (what a Kubernetes Indexed Job sets in each pod).
pub fn resolve(
    shard: Option<Shard>,
    count: Option<u32>,
    completion_index: Option<&str>,
) -> Result<Option<Shard>, String> {
    match (shard, count) {
        (Some(shard), _) => Ok(Some(shard)),
        (None, None) => Ok(None),
        (None, Some(count)) => {
            let index = completion_index.ok_or_else(|| {
                format!(
                    "--shard-count {count} takes this process's index from {}, which is not set",
                    crate::env::JOB_COMPLETION_INDEX
                )
            })?;
            format!("{}/{count}", index.trim())
                .parse()
                .map(Some)
                .map_err(|err| format!("{} is `{index}`: {err}", crate::env::JOB_COMPLETION_INDEX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        for bad in ["5/5", "1/0", "x/2", "3", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_any_batch() {
        let ids: Vec<String> = (0..500).map(|i| format!("episode-{i}")).collect();
        for count in 1..=7 {
            let mut taken = vec![0u32; ids.len()];
            for index in 0..count {
                let shard = Shard { index, count };
                for (i, id) in ids.iter().enumerate() {
                    taken[i] += u32::from(shard.takes(id));
                }
            }
            assert!(taken.iter().all(|&n| n == 1), "{count} shards");
        }
        // Spread evenly enough that no shard idles: 500 ids over 4 shards, each within 20% of 125.
        let sizes: Vec<usize> =
            (0..4).map(|index| ids.iter().filter(|id| Shard { index, count: 4 }.takes(id)).count()).collect();
        assert!(sizes.iter().all(|&n| (100..=150).contains(&n)), "{sizes:?}");
    }

    #[test]
    fn stable_across_releases() {
        // The hash is part of the contract: shards of one batch may run different builds.
        // Fixed values: changing the hash would move episodes between shards mid-batch.
        assert_eq!(shard_of("pilot", 1000), 416);
        assert_eq!(shard_of("episode-1", 1000), 921);
    }

    #[test]
    fn index_from_the_job() {
        assert_eq!(resolve(None, Some(3), Some("2")), Ok(Some(Shard { index: 2, count: 3 })));
        assert!(resolve(None, Some(3), None).is_err());
        assert!(resolve(None, Some(3), Some("3")).is_err());
        assert_eq!(
            resolve(Some(Shard { index: 0, count: 2 }), Some(3), Some("2")),
            Ok(Some(Shard { index: 0, count: 2 }))
        );
        assert_eq!(resolve(None, None, Some("1")), Ok(None));
    }
}
