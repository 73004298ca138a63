//! What the mails say: plain text, the product's name, the link alone on its line,
//! when it expires, and what to do if you did not ask. Never a password; the token is
//! only ever inside the link.

use chrono::NaiveDateTime;

const PRODUCT: &str = "turnstile";

/// A mail ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub subject: String,
    pub body: String,
}

fn lifetime(secs: u64) -> String {
    match secs {
        s if s % 86400 == 0 && s >= 86400 => plural(s / 86400, "day"),
        s if s % 3600 == 0 && s >= 3600 => plural(s / 3600, "hour"),
        s if s % 60 == 0 && s >= 60 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

fn plural(n: u64, unit: &str) -> String {
    match n {
        1 => format!("1 {unit}"),
        n => format!("{n} {unit}s"),
    }
}

fn utc(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn password_reset(
    address: &str,
    link: &str,
    ttl_secs: u64,
    expires_at: NaiveDateTime,
) -> Composed {
    Composed {
        subject: format!("Reset your {PRODUCT} password"),
        body: format!(
            "Hello,\r\n\
             \r\n\
             Someone asked to reset the password of the {PRODUCT} account {address}.\r\n\
             To choose a new password, open this link:\r\n\
             \r\n\
             {link}\r\n\
             \r\n\
             The link works once and expires in {} (at {}).\r\n\
             \r\n\
             If you did not ask for this, you can ignore this mail: your password stays\r\n\
             as it is, and nobody can use the link without reading this mail.\r\n\
             \r\n\
             -- {PRODUCT}\r\n",
            lifetime(ttl_secs),
            utc(expires_at),
        ),
    }
}

pub fn email_verification(
    address: &str,
    link: &str,
    ttl_secs: u64,
    expires_at: NaiveDateTime,
) -> Composed {
    Composed {
        subject: format!("Confirm your email address for {PRODUCT}"),
        body: format!(
            "Hello,\r\n\
             \r\n\
             Please confirm that {address} is the address of your {PRODUCT} account\r\n\
             by opening this link:\r\n\
             \r\n\
             {link}\r\n\
             \r\n\
             The link works once and expires in {} (at {}).\r\n\
             \r\n\
             If you did not create an account or ask for this, you can ignore this mail.\r\n\
             \r\n\
             -- {PRODUCT}\r\n",
            lifetime(ttl_secs),
            utc(expires_at),
        ),
    }
}

pub fn password_changed(address: &str, at: NaiveDateTime) -> Composed {
    Composed {
        subject: format!("Your {PRODUCT} password was changed"),
        body: format!(
            "Hello,\r\n\
             \r\n\
             The password of the {PRODUCT} account {address} was changed at {}.\r\n\
             Every device that was signed in has been signed out.\r\n\
             \r\n\
             If this was you, there is nothing to do.\r\n\
             \r\n\
             If it was not you, reset your password at once with \"Forgot password\",\r\n\
             and tell your administrator.\r\n\
             \r\n\
             -- {PRODUCT}\r\n",
            utc(at),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> NaiveDateTime {
        chrono::DateTime::parse_from_rfc3339("2026-11-23T21:30:00Z")
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_reset_mail_has_the_link_alone_on_its_line_the_expiry_and_what_to_do() {
        let l = "https://app.example.com/reset?token=AbC";
        let m = password_reset("alice@example.com", l, 3600, at());
        assert!(m.subject.contains("turnstile"));
        assert!(m.body.lines().any(|line| line == l), "{}", m.body);
        assert!(m
            .body
            .contains("expires in 1 hour (at 2026-11-23 21:30 UTC)"));
        assert!(m.body.contains("If you did not ask for this"));
        assert!(m.body.contains("alice@example.com"));
    }

    #[test]
    fn a_verification_mail_says_when_it_expires() {
        let m = email_verification("a@example.com", "https://x.example/v?token=t", 86400, at());
        assert!(m.body.contains("expires in 1 day"));
        assert!(m
            .body
            .lines()
            .any(|line| line == "https://x.example/v?token=t"));
    }

    #[test]
    fn a_change_notice_says_what_to_do_if_it_was_not_you() {
        let m = password_changed("a@example.com", at());
        assert!(m.body.contains("2026-11-23 21:30 UTC"));
        assert!(m.body.contains("If it was not you"));
        assert!(!m.body.contains("token"));
    }

    #[test]
    fn lifetimes_read_naturally() {
        assert_eq!(lifetime(3600), "1 hour");
        assert_eq!(lifetime(7200), "2 hours");
        assert_eq!(lifetime(90), "90 seconds");
        assert_eq!(lifetime(1800), "30 minutes");
        assert_eq!(lifetime(172800), "2 days");
    }
}
