//! Timestamps in answers, written as chrono writes them (RFC 3339, `Z`, as many
//! fraction digits as the value needs: none, 3, 6 or 9) but straight into a buffer:
//! chrono's `Display` goes through `fmt` a character at a time, which was a twentieth
//! of the CPU of every `/api/profile` answer.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// `serialize_with` for a `DateTime<Utc>` field.
pub fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match write(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        // Years beyond four digits and leap seconds: rare enough for chrono's path.
        None => t.serialize(s),
    }
}

/// `serialize_with` for an `Option<DateTime<Utc>>` field (`null` when absent).
pub fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// Writes `n` as `width` decimal digits at `buf[at..]`.
fn put(buf: &mut [u8; 30], at: usize, n: u32, width: usize) {
    let mut n = n;
    for i in (at..at + width).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn write<'b>(t: &DateTime<Utc>, buf: &'b mut [u8; 30]) -> Option<&'b str> {
    // Every accessor of a `DateTime` converts to local time first: once is enough.
    let t = t.naive_utc();
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    *buf = *b"0000-00-00T00:00:00.000000000Z";
    put(buf, 0, year as u32, 4);
    put(buf, 5, t.month(), 2);
    put(buf, 8, t.day(), 2);
    put(buf, 11, t.hour(), 2);
    put(buf, 14, t.minute(), 2);
    put(buf, 17, t.second(), 2);
    let (fraction, width) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    let end = match width {
        0 => 19,
        w => {
            put(buf, 20, fraction, w);
            20 + w
        }
    };
    buf[end] = b'Z';
    std::str::from_utf8(&buf[..=end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ours(t: DateTime<Utc>) -> String {
        #[derive(Serialize)]
        struct W(#[serde(serialize_with = "rfc3339")] DateTime<Utc>);
        serde_json::to_string(&W(t)).unwrap()
    }

    #[test]
    fn timestamps_are_written_exactly_as_chrono_writes_them() {
        let base = Utc.with_ymd_and_hms(2026, 12, 1, 9, 5, 7).unwrap();
        let mut cases = vec![
            base,
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-5, 1, 1, 0, 0, 0).unwrap(),
            Utc::now(),
        ];
        for nanos in [
            1,
            10,
            999,
            1_000,
            120_000,
            999_999,
            1_000_000,
            7_000_000,
            123_456_789,
        ] {
            cases.push(base + chrono::Duration::nanoseconds(nanos));
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 253_402_300_799) as i64;
            let nanos = (x >> 20) as u32 % 1_000_000_000;
            let nanos =
                [nanos, nanos / 1000 * 1000, nanos / 1_000_000 * 1_000_000, 0][(x % 4) as usize];
            cases.push(DateTime::from_timestamp(secs, nanos).unwrap());
        }
        for t in cases {
            assert_eq!(ours(t), serde_json::to_string(&t).unwrap(), "{t:?}");
        }
    }

    #[test]
    fn an_absent_timestamp_is_null() {
        #[derive(Serialize)]
        struct W(#[serde(serialize_with = "rfc3339_opt")] Option<DateTime<Utc>>);
        assert_eq!(serde_json::to_string(&W(None)).unwrap(), "null");
    }
}
