//! `Cursor`: where the next page of a list starts (keyset paging). Opaque to clients;
//! inside, the list it belongs to and the id of the last row already shown.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The list a cursor walks: a cursor of one list is refused by the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Users,
    Audit,
}

impl Listing {
    fn tag(self) -> &'static str {
        match self {
            Listing::Users => "u1",
            Listing::Audit => "a1",
        }
    }
}

/// The id of the last row a page showed, in the list it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    listing: Listing,
    after: i64,
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not one this list gave out")]
pub struct CursorError;

impl Cursor {
    pub fn new(listing: Listing, after: i64) -> Cursor {
        Cursor { listing, after }
    }

    /// A cursor given out by [`Cursor::encode`] for this `listing`.
    pub fn parse(raw: &str, listing: Listing) -> Result<Cursor, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.trim())
            .map_err(|_| CursorError)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| CursorError)?;
        let (tag, id) = text.split_once(':').ok_or(CursorError)?;
        if tag != listing.tag() || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CursorError);
        }
        let after = id.parse::<i64>().map_err(|_| CursorError)?;
        Ok(Cursor { listing, after })
    }

    /// The opaque text clients send back as `cursor=`.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.listing.tag(), self.after))
    }

    /// The id of the last row already shown.
    pub fn after(self) -> i64 {
        self.after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_row_it_was_made_from() {
        let c = Cursor::new(Listing::Users, 4242);
        assert_eq!(
            Cursor::parse(&c.encode(), Listing::Users).unwrap().after(),
            4242
        );
        let c = Cursor::new(Listing::Audit, 0);
        assert_eq!(
            Cursor::parse(&c.encode(), Listing::Audit).unwrap().after(),
            0
        );
    }

    #[test]
    fn a_cursor_of_another_list_or_made_up_text_is_refused() {
        let users = Cursor::new(Listing::Users, 7).encode();
        assert!(Cursor::parse(&users, Listing::Audit).is_err());
        let forged = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for bad in [
            String::new(),
            "!!!".into(),
            forged("u1:"),
            forged("u1:-5"),
            forged("u1:+5"),
            forged("u1:5x"),
            forged("u2:5"),
            forged("u1:99999999999999999999"),
            forged("5"),
        ] {
            assert!(Cursor::parse(&bad, Listing::Users).is_err(), "{bad}");
        }
    }
}
