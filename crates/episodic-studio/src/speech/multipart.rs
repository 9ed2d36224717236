//! Just enough `multipart/form-data` for `POST /v1/forced-alignment`: named parts and their
//! bytes.

/// A part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The `name` of its `Content-Disposition`.
    pub(crate) name: String,
    /// Its bytes.
    pub(crate) data: Vec<u8>,
}

/// The parts of `body`, given the request's `Content-Type`; `None` when it is not a
/// well-formed multipart form.
pub(crate) fn parse(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.split(';').find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = &body[find(body, &delimiter)? + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&rest[..header_end]).into_owned();
        let content = &rest[header_end + 4..];
        let next = find(content, &[b"\r\n".as_slice(), &delimiter].concat())?;
        let name = headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            if !key.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            value.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
            })
        })?;
        parts.push(Part { name, data: content[..next].to_vec() });
        rest = &content[next + 2 + delimiter.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_named_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nHello there\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\n\x00\r\n--\x01\r\n--XyZ--\r\n";
        let parts = parse("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].data.as_slice()), ("text", b"Hello there".as_slice()));
        assert_eq!(
            (parts[1].name.as_str(), parts[1].data.as_slice()),
            ("file", b"\x00\r\n--\x01".as_slice())
        );
        assert!(parse("application/json", body).is_none());
        assert!(parse("multipart/form-data; boundary=Other", body).is_none());
    }
}
