//! Endpoint ids (`owner/alias[/path]`) and the queue URLs built from them.
//!
//! fal submits to the full id but serves status, result and cancel under `owner/alias` only
//! (`fal-protocol.md` §1.3); putting the sub-path into a status URL is reported to answer 405.

use std::fmt;
use std::str::FromStr;

/// Namespaces whose ids carry one more leading segment (`workflows/owner/alias`).
const NAMESPACES: [&str; 2] = ["workflows", "comfy"];

/// A parsed fal endpoint id such as `fal-ai/kling-video/ai-avatar/v2/pro`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointId {
    namespace: Option<String>,
    owner: String,
    alias: String,
    path: Vec<String>,
}

/// Why an endpoint id or request id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Not of the form `owner/alias[/path]`.
    #[error("invalid endpoint id `{id}`: {reason} (expected `owner/alias[/path]`)")]
    InvalidEndpoint {
        /// The id as given.
        id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A request id that cannot be placed in a URL path.
    #[error("invalid request id `{0}`: expected letters, digits, `-` or `_`")]
    InvalidRequestId(String),
    /// The configured queue base URL does not form valid request URLs.
    #[error("the queue base URL `{0}` does not form valid request URLs")]
    InvalidBaseUrl(String),
}

impl EndpointId {
    /// Parses an id with fal's algorithm: `123-name` becomes `123/name`; `workflows/` and
    /// `comfy/` ids keep their namespace as an extra leading segment.
    ///
    /// Segments are limited to ASCII letters, digits, `.`, `_` and `-` (every published id fits)
    /// so that an id can never smuggle a query, fragment or `..` into the URLs built from it.
    pub fn parse(id: &str) -> Result<Self, EndpointError> {
        let invalid = |reason| EndpointError::InvalidEndpoint { id: id.to_owned(), reason };
        let rewritten;
        let id_with_slash = if id.contains('/') {
            id
        } else if let Some(alias) = numeric_alias(id) {
            rewritten = alias;
            &rewritten
        } else {
            return Err(invalid("no `/` in it"));
        };
        let parts: Vec<&str> = id_with_slash.split('/').collect();
        for part in &parts {
            if part.is_empty() {
                return Err(invalid("empty segment"));
            }
            if *part == "." || *part == ".." {
                return Err(invalid("`.` or `..` segment"));
            }
            if !part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
                return Err(invalid("segments may hold only letters, digits, `.`, `_`, `-`"));
            }
        }
        let (namespace, rest) = match parts.split_first() {
            Some((first, rest)) if NAMESPACES.contains(first) => (Some((*first).to_owned()), rest),
            _ => (None, &parts[..]),
        };
        match rest {
            [owner, alias, path @ ..] => Ok(Self {
                namespace,
                owner: (*owner).to_owned(),
                alias: (*alias).to_owned(),
                path: path.iter().map(|s| (*s).to_owned()).collect(),
            }),
            _ => Err(invalid("missing owner or alias")),
        }
    }

    /// `workflows` or `comfy`, when the id has one.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Owner, e.g. `fal-ai`.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// App alias, e.g. `kling-video`.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// Sub-path segments after the alias, e.g. `["ai-avatar", "v2", "pro"]`.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// `[namespace/]owner/alias`: the part status, result and cancel URLs use.
    pub fn app_id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}/{}", self.owner, self.alias),
            None => format!("{}/{}", self.owner, self.alias),
        }
    }

    /// `{queue_url}/{full id}`: where to submit.
    pub fn submit_url(&self, queue_url: &str) -> String {
        format!("{}/{self}", queue_url.trim_end_matches('/'))
    }

    /// `{queue_url}/{app_id}/requests/{request_id}`: the result URL, base of status and cancel.
    pub fn request_url(&self, queue_url: &str, request_id: &str) -> Result<String, EndpointError> {
        validate_request_id(request_id)?;
        Ok(format!("{}/{}/requests/{request_id}", queue_url.trim_end_matches('/'), self.app_id()))
    }
}

/// `^([0-9]+)-([a-zA-Z0-9-]+)$` → `"$1/$2"`, without a regex engine.
fn numeric_alias(id: &str) -> Option<String> {
    let (digits, alias) = id.split_once('-')?;
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !alias.is_empty()
        && alias.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| format!("{digits}/{alias}"))
}

/// Request ids are UUIDs; anything else would be interpreted as more path or a query.
pub(crate) fn validate_request_id(request_id: &str) -> Result<(), EndpointError> {
    let ok = !request_id.is_empty()
        && request_id.len() <= 128
        && request_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if ok { Ok(()) } else { Err(EndpointError::InvalidRequestId(request_id.to_owned())) }
}

impl fmt::Display for EndpointId {
    /// The full id, with a numeric alias already rewritten to `number/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        write!(f, "{}/{}", self.owner, self.alias)?;
        for segment in &self.path {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

impl FromStr for EndpointId {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "https://queue.fal.run";
    const ID: &str = "727028ec-aa98-4073-9bcd-0acb386abcfc";

    /// Every row of the §1.3 table: id, submit URL, request base.
    const TABLE: [(&str, &str, &str); 6] = [
        (
            "fal-ai/kling-video/ai-avatar/v2/pro",
            "https://queue.fal.run/fal-ai/kling-video/ai-avatar/v2/pro",
            "https://queue.fal.run/fal-ai/kling-video/requests/",
        ),
        (
            "fal-ai/kling-video/ai-avatar/v2/standard",
            "https://queue.fal.run/fal-ai/kling-video/ai-avatar/v2/standard",
            "https://queue.fal.run/fal-ai/kling-video/requests/",
        ),
        (
            "fal-ai/kling-video/v2.6/pro/image-to-video",
            "https://queue.fal.run/fal-ai/kling-video/v2.6/pro/image-to-video",
            "https://queue.fal.run/fal-ai/kling-video/requests/",
        ),
        (
            "fal-ai/bytedance/omnihuman/v1.5",
            "https://queue.fal.run/fal-ai/bytedance/omnihuman/v1.5",
            "https://queue.fal.run/fal-ai/bytedance/requests/",
        ),
        (
            "veed/fabric-1.0",
            "https://queue.fal.run/veed/fabric-1.0",
            "https://queue.fal.run/veed/fabric-1.0/requests/",
        ),
        (
            "fal-ai/creatify/aurora",
            "https://queue.fal.run/fal-ai/creatify/aurora",
            "https://queue.fal.run/fal-ai/creatify/requests/",
        ),
    ];

    #[test]
    fn protocol_table_rows() {
        for (id, submit, base) in TABLE {
            let e = EndpointId::parse(id).unwrap();
            assert_eq!(e.to_string(), id);
            assert_eq!(e.submit_url(Q), submit, "{id}");
            assert_eq!(e.request_url(Q, ID).unwrap(), format!("{base}{ID}"), "{id}");
        }
    }

    #[test]
    fn trailing_slash_on_base_is_ignored() {
        let e = EndpointId::parse("veed/fabric-1.0").unwrap();
        assert_eq!(e.submit_url("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/veed/fabric-1.0");
    }

    #[test]
    fn parts_are_split() {
        let e = EndpointId::parse("fal-ai/kling-video/ai-avatar/v2/pro").unwrap();
        assert_eq!(e.owner(), "fal-ai");
        assert_eq!(e.alias(), "kling-video");
        assert_eq!(e.path(), ["ai-avatar", "v2", "pro"]);
        assert_eq!(e.namespace(), None);
        assert_eq!(e.app_id(), "fal-ai/kling-video");
    }

    #[test]
    fn numeric_alias_is_rewritten() {
        let e = EndpointId::parse("1234-my-app").unwrap();
        assert_eq!(e.owner(), "1234");
        assert_eq!(e.alias(), "my-app");
        assert_eq!(e.to_string(), "1234/my-app");
        assert_eq!(e.submit_url(Q), "https://queue.fal.run/1234/my-app");
    }

    #[test]
    fn namespaces_keep_three_segments() {
        let e = EndpointId::parse("workflows/fal-ai/my-flow/extra").unwrap();
        assert_eq!(e.namespace(), Some("workflows"));
        assert_eq!(e.app_id(), "workflows/fal-ai/my-flow");
        assert_eq!(
            e.request_url(Q, "r1").unwrap(),
            "https://queue.fal.run/workflows/fal-ai/my-flow/requests/r1"
        );
        assert_eq!(e.submit_url(Q), "https://queue.fal.run/workflows/fal-ai/my-flow/extra");
        let c = EndpointId::parse("comfy/someone/graph").unwrap();
        assert_eq!(c.app_id(), "comfy/someone/graph");
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in [
            "",
            "kling",
            "abc-def",
            "12-",
            "-x",
            "fal-ai/",
            "/kling",
            "fal-ai//x",
            "workflows/fal-ai",
            "fal-ai/kling?x=1",
            "fal-ai/../secret",
            "fal ai/kling",
            "fal-ai/kling#frag",
        ] {
            assert!(EndpointId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn bad_request_ids_are_refused() {
        let e = EndpointId::parse("veed/fabric-1.0").unwrap();
        for bad in ["", "a/b", "../x", "id?x", "id#y", "a b"] {
            assert!(e.request_url(Q, bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn from_str_matches_parse() {
        let e: EndpointId = "fal-ai/creatify/aurora".parse().unwrap();
        assert_eq!(e, EndpointId::parse("fal-ai/creatify/aurora").unwrap());
    }
}
