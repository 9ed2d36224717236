//! Node keys: a hash of everything that determines a node's output, and nothing else.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// A content key: lowercase hex sha256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct NodeKey(String);

impl NodeKey {
    /// The key of an input file: the hash of its bytes, as already computed.
    pub fn of_file(sha256: &str) -> Self {
        NodeKey(sha256.to_owned())
    }

    /// The key of a JSON value, hashed in canonical form (object keys sorted, no whitespace).
    pub fn of_json(value: &serde_json::Value) -> Self {
        // serde_json's map is a BTreeMap here (no `preserve_order`), so keys serialise sorted.
        let canonical = value.to_string();
        NodeKey(hex::encode(Sha256::digest(canonical.as_bytes())))
    }

    /// The full hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, for display.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_ignores_written_key_order() {
        let a = NodeKey::of_json(&json!({"endpoint": "x", "args": {"a": 1, "b": 2}}));
        let b = NodeKey::of_json(&json!({"args": {"b": 2, "a": 1}, "endpoint": "x"}));
        assert_eq!(a, b);
        assert_ne!(a, NodeKey::of_json(&json!({"endpoint": "x", "args": {"a": 1, "b": 3}})));
        assert_eq!(a.as_str().len(), 64);
        assert_eq!(a.short().len(), 12);
    }
}
