//! What a received mail says: its headers (unfolded), its subject (RFC 2047
//! encoded-words decoded) and its text body (the first `text/plain` part of a
//! multipart mail, transfer-decoded from quoted-printable or base64), enough to read
//! what turnstile and lettre send.

/// One mail the sink accepted.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// The envelope's `MAIL FROM` address, without `<>` (empty for the null path).
    pub from: String,
    /// The envelope's `RCPT TO` addresses, without `<>`, in order.
    pub to: Vec<String>,
    /// The message's headers, unfolded, in order; values are as sent (not decoded).
    pub headers: Vec<(String, String)>,
    /// The `Subject` header, RFC 2047 encoded-words (B and Q) decoded.
    pub subject: String,
    /// The text body, transfer-decoded (7bit, 8bit, quoted-printable, base64) and
    /// with `\n` line endings. For a multipart mail, the first `text/plain` part.
    pub body: String,
    /// The whole DATA as received, dot-unstuffed (CRLF line endings, without the
    /// line break that belongs to the final `.`).
    pub raw: String,
}

#[allow(dead_code)]
impl ReceivedMail {
    /// The header value by case-insensitive name (the first one, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// The `token` query parameter of the first URL in the body that has one
    /// (`...?token=XYZ` or `&token=XYZ`), i.e. the token of the mail's link. The
    /// token alphabet is base64url (`A-Za-z0-9-_`).
    pub fn link_token(&self) -> Option<String> {
        let separators = |c: char| {
            c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '(' | ')' | '[' | ']')
        };
        for word in self.body.split(separators) {
            if !word.contains("://") {
                continue;
            }
            let Some((_, query)) = word.split_once('?') else {
                continue;
            };
            let query = query.split('#').next().unwrap_or_default();
            for pair in query.split('&') {
                // `&amp;token=` in an HTML body.
                let pair = pair.strip_prefix("amp;").unwrap_or(pair);
                if let Some(value) = pair.strip_prefix("token=") {
                    let token: String = value
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                    if !token.is_empty() {
                        return Some(token);
                    }
                }
            }
        }
        None
    }

    /// The first line of the body that contains "://" (the link), trimmed.
    pub fn link_line(&self) -> Option<String> {
        self.body
            .lines()
            .find(|line| line.contains("://"))
            .map(|line| line.trim().to_string())
    }

    /// A mail as the sink received it: envelope and DATA (dot-unstuffed).
    pub(super) fn parse(from: String, to: Vec<String>, data: &[u8]) -> ReceivedMail {
        let (headers, body) = split_message(data);
        let subject = header_value(&headers, "Subject")
            .map(decode_encoded_words)
            .unwrap_or_default();
        let body = text_of(&headers, body)
            .unwrap_or_else(|| decode_part(&headers, body))
            .replace("\r\n", "\n");
        ReceivedMail {
            from,
            to,
            headers,
            subject,
            body,
            raw: String::from_utf8_lossy(data).into_owned(),
        }
    }
}

fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The headers (unfolded) and the body of a message or MIME part.
fn split_message(data: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (line, next) = match data[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (&data[pos..pos + i], pos + i + 1),
            None => (&data[pos..], data.len()),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = next;
        if line.is_empty() {
            return (trimmed(headers), &data[pos..]);
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            // Unfolding: the line break goes, the whitespace stays.
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(&text);
            }
        } else if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_string(), value.to_string()));
        }
    }
    (trimmed(headers), &data[data.len()..])
}

fn trimmed(headers: Vec<(String, String)>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|(name, value)| (name, value.trim().to_string()))
        .collect()
}

/// A parameter of a structured header value (`text/plain; charset="utf-8"`).
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, val) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"').to_string())
    })
}

fn mime_type(headers: &[(String, String)]) -> String {
    header_value(headers, "Content-Type")
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|| "text/plain".into())
}

/// The first `text/plain` part (the entity itself when it is one), decoded.
fn text_of(headers: &[(String, String)], body: &[u8]) -> Option<String> {
    let mime = mime_type(headers);
    if mime == "text/plain" {
        return Some(decode_part(headers, body));
    }
    if mime.starts_with("multipart/") {
        let boundary = parameter(header_value(headers, "Content-Type")?, "boundary")?;
        return multipart_parts(body, &boundary)
            .into_iter()
            .find_map(|part| {
                let (headers, body) = split_message(part);
                text_of(&headers, body)
            });
    }
    None
}

/// The parts between `--boundary` lines, each without the line break that belongs
/// to the next delimiter.
fn multipart_parts<'b>(body: &'b [u8], boundary: &str) -> Vec<&'b [u8]> {
    let delimiter = format!("--{boundary}");
    let closing = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let (line, next) = match body[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (&body[pos..pos + i], pos + i + 1),
            None => (&body[pos..], body.len()),
        };
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end();
        if line == delimiter || line == closing {
            if let Some(start) = start {
                let part = &body[start..pos];
                let part = part.strip_suffix(b"\n").unwrap_or(part);
                parts.push(part.strip_suffix(b"\r").unwrap_or(part));
            }
            if line == closing {
                break;
            }
            start = Some(next);
        }
        pos = next;
    }
    parts
}

/// A single part's body, transfer-decoded and turned into text by its charset.
fn decode_part(headers: &[(String, String)], body: &[u8]) -> String {
    let encoding = header_value(headers, "Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => decode_base64(body),
        _ => body.to_vec(),
    };
    let charset = header_value(headers, "Content-Type")
        .and_then(|ct| parameter(ct, "charset"))
        .unwrap_or_else(|| "utf-8".into());
    text_in_charset(&bytes, &charset)
}

fn text_in_charset(bytes: &[u8], charset: &str) -> String {
    match charset.to_ascii_lowercase().as_str() {
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `=XX` escapes (and `_` for a space in a header's Q encoding); a stray `=` stays.
fn decode_escapes(input: &[u8], underscore_is_space: bool, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'=' && i + 2 < input.len() {
            if let (Some(hi), Some(lo)) = (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(if underscore_is_space && b == b'_' {
            b' '
        } else {
            b
        });
        i += 1;
    }
}

/// RFC 2045 quoted-printable: soft line breaks (`=` at the end of a line) join
/// lines, trailing whitespace of an encoded line is dropped, `=XX` is a byte.
fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let mut line = line.strip_suffix(b"\r").unwrap_or(line);
        while let Some((&last, rest)) = line.split_last() {
            if last != b' ' && last != b'\t' {
                break;
            }
            line = rest;
        }
        let soft_break = line.last() == Some(&b'=');
        if soft_break {
            line = &line[..line.len() - 1];
        }
        decode_escapes(line, false, &mut out);
        if !soft_break && i + 1 < lines.len() {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Base64 (standard or URL-safe alphabet); whitespace and anything else outside the
/// alphabet is skipped, `=` ends the data.
fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut bits: u32 = 0;
    let mut count = 0;
    for &b in input {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

/// One RFC 2047 encoded-word at the start of `text`: its charset, its bytes and
/// its length in `text`.
fn encoded_word(text: &str) -> Option<(String, Vec<u8>, usize)> {
    let rest = text.strip_prefix("=?")?;
    let charset_end = rest.find('?')?;
    let charset = &rest[..charset_end];
    let rest = &rest[charset_end + 1..];
    let encoding = rest.as_bytes().first()?.to_ascii_uppercase();
    let rest = rest.get(1..)?.strip_prefix('?')?;
    let encoded = &rest[..rest.find("?=")?];
    if charset.is_empty()
        || charset.contains(char::is_whitespace)
        || encoded.contains(char::is_whitespace)
    {
        return None;
    }
    let bytes = match encoding {
        b'B' => decode_base64(encoded.as_bytes()),
        b'Q' => {
            let mut out = Vec::new();
            decode_escapes(encoded.as_bytes(), true, &mut out);
            out
        }
        _ => return None,
    };
    // `utf-8*en`: an RFC 2231 language suffix.
    let charset = charset.split('*').next().unwrap_or_default().to_string();
    Some((charset, bytes, 2 + charset_end + 1 + 2 + encoded.len() + 2))
}

/// A header value with its encoded-words decoded. Whitespace between two adjacent
/// encoded-words is dropped (RFC 2047 §6.2), and adjacent words of one charset are
/// joined before being read, so a character split across two words survives.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut gap = String::new();
    let flush = |pending: &mut Option<(String, Vec<u8>)>, out: &mut String| {
        if let Some((charset, bytes)) = pending.take() {
            out.push_str(&text_in_charset(&bytes, &charset));
        }
    };
    let mut i = 0;
    while i < value.len() {
        let rest = &value[i..];
        if let Some((charset, bytes, len)) =
            rest.starts_with("=?").then(|| encoded_word(rest)).flatten()
        {
            let joins = pending.is_some() && gap.chars().all(char::is_whitespace);
            match pending.as_mut() {
                Some((previous, so_far)) if joins && previous.eq_ignore_ascii_case(&charset) => {
                    so_far.extend_from_slice(&bytes);
                }
                _ => {
                    flush(&mut pending, &mut out);
                    if !joins {
                        out.push_str(&gap);
                    }
                    pending = Some((charset, bytes));
                }
            }
            gap.clear();
            i += len;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            gap.push(c);
            i += c.len_utf8();
        }
    }
    flush(&mut pending, &mut out);
    out.push_str(&gap);
    out
}
