//! A server's answer to a request for several byte ranges at once (`Range: bytes=a-b,c-d`):
//! a `multipart/byteranges` body (RFC 9110 §14.6), each part with its own `Content-Range`.
//! An on-demand vocabulary's query reads a few dozen scattered rows; one such request instead
//! of one per run of rows spares a browser its per-request cost (and HTTP/1.1's six
//! connections a host). Parsing only: the caller checks what each part holds.

/// One part: the offset of its first byte in the file, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub offset: u64,
    pub bytes: &'a [u8],
}

/// The boundary of a `multipart/byteranges; boundary=…` content type, or `None` for any other
/// type (a server that answered the ranges as one part, or not at all).
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case("multipart/byteranges") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// `bytes a-b/total` → `(a, b)`.
pub fn content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, _total) = rest.split_once('/')?;
    let (a, b) = span.trim().split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// The parts of a `multipart/byteranges` body. Each part's length is taken from its
/// `Content-Range`, not from where the next boundary appears (a row's bytes may contain it),
/// and the delimiter must follow exactly there: a cut or garbled body is an error.
pub fn parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, String> {
    let delim = format!("--{boundary}");
    let mut at = find(body, delim.as_bytes(), 0).ok_or("no multipart boundary in the body")?;
    let mut out = Vec::new();
    loop {
        at += delim.len();
        if body[at..].starts_with(b"--") {
            return Ok(out);
        }
        let head_end = find(body, b"\r\n\r\n", at).ok_or("a part's headers never end (a cut body?)")?;
        let head = std::str::from_utf8(&body[at..head_end]).map_err(|_| "a part's headers are not text")?;
        let range = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-range"))
            .ok_or("a part has no Content-Range")?
            .1;
        let (a, b) = content_range(range)
            .ok_or_else(|| format!("a part's Content-Range \"{}\" is not bytes a-b/n", range.trim()))?;
        let start = head_end + 4;
        let len = (b - a)
            .checked_add(1)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or("a part is larger than memory")?;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| format!("the part for bytes {a}-{b} is cut short"))?;
        out.push(Part {
            offset: a,
            bytes: &body[start..end],
        });
        let next = &body[end..];
        let skip = if next.starts_with(b"\r\n") { 2 } else { 0 };
        if !next[skip..].starts_with(delim.as_bytes()) {
            return Err(format!("no boundary after the part for bytes {a}-{b}"));
        }
        at = end + skip;
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(u64, &[u8])], total: u64) -> Vec<u8> {
        let mut b = Vec::new();
        for (a, bytes) in parts {
            b.extend_from_slice(b"\r\n--XyZ\r\nContent-Type: application/octet-stream\r\n");
            b.extend_from_slice(
                format!(
                    "Content-Range: bytes {a}-{}/{total}\r\n\r\n",
                    a + bytes.len() as u64 - 1
                )
                .as_bytes(),
            );
            b.extend_from_slice(bytes);
        }
        b.extend_from_slice(b"\r\n--XyZ--\r\n");
        b
    }

    #[test]
    fn parts_come_back_with_their_offsets() {
        // The second part holds the boundary itself: lengths come from Content-Range.
        let (p0, p1): (&[u8], &[u8]) = (b"abc", b"x\r\n--XyZ\r\ny");
        let b = body(&[(5, p0), (100, p1)], 1000);
        assert_eq!(boundary("multipart/byteranges; boundary=XyZ").as_deref(), Some("XyZ"));
        assert_eq!(
            boundary("Multipart/ByteRanges;boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        assert_eq!(boundary("application/octet-stream"), None);
        let got = parts(&b, "XyZ").unwrap();
        assert_eq!(
            got,
            vec![Part { offset: 5, bytes: p0 }, Part { offset: 100, bytes: p1 }]
        );
    }

    #[test]
    fn cut_or_garbled_bodies_are_errors() {
        let b = body(&[(0, b"abcdef"), (10, b"ghij")], 20);
        for cut in [0, 5, 40, b.len() - 30, b.len() - 12] {
            assert!(parts(&b[..cut], "XyZ").is_err(), "a body cut at {cut} must not parse");
        }
        let wrong_len = String::from_utf8(b.clone())
            .unwrap()
            .replace("bytes 0-5/20", "bytes 0-3/20");
        assert!(
            parts(wrong_len.as_bytes(), "XyZ")
                .unwrap_err()
                .contains("no boundary after")
        );
        let no_range = String::from_utf8(b.clone())
            .unwrap()
            .replace("Content-Range", "Content-Rang");
        assert!(parts(no_range.as_bytes(), "XyZ").is_err());
        assert!(parts(&b, "other").is_err());
        assert_eq!(content_range("bytes 3-1/9"), None);
        assert_eq!(content_range("bytes 1-3/*"), Some((1, 3)));
    }
}
