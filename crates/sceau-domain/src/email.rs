//! An e-mail address a client may be reached at, besides their phone.

use std::fmt;
use std::str::FromStr;

/// The longest address SMTP carries (RFC 5321's path limit, less its angle brackets).
pub const EMAIL_OCTETS_MAX: usize = 254;
/// The longest local part (before the `@`) SMTP carries.
const LOCAL_OCTETS_MAX: usize = 64;

/// One bare address, `name@domain`: no display name, no list, no comment, no quoted local
/// part, no space or control character (so no CR/LF that could add a header), at most
/// [`EMAIL_OCTETS_MAX`] octets. The local part is a dot-atom (RFC 5322); the domain is
/// dot-separated labels of letters, digits and hyphens (letters may be non-ASCII).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "e-mail address must be one bare address (name@example.org): no display name, no spaces, at most 254 octets"
)]
pub struct EmailError;

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with its local part hidden but its first character, for logs and
    /// pages.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", &self.0));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

/// A stored e-mail address as pages show it ([`EmailAddress::masked`]); nothing of it
/// when it is not one ([`crate::NOTHING_SHOWN`]).
pub fn mask(text: &str) -> String {
    text.parse::<EmailAddress>().map_or_else(
        |_| crate::NOTHING_SHOWN.to_owned(),
        |address| address.masked(),
    )
}

/// Characters RFC 5322 allows in an atom, besides letters and digits (and any non-ASCII
/// letter, as RFC 6531 does).
fn atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && c.is_alphanumeric())
}

fn dot_atom(text: &str, char_ok: impl Fn(char) -> bool) -> bool {
    text.split('.')
        .all(|part| !part.is_empty() && part.chars().all(&char_ok))
}

fn domain_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c == '-' || c.is_alphanumeric())
}

impl FromStr for EmailAddress {
    type Err = EmailError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (local, domain) = text.rsplit_once('@').ok_or(EmailError)?;
        let valid = text.len() <= EMAIL_OCTETS_MAX
            && local.len() <= LOCAL_OCTETS_MAX
            && dot_atom(local, atom_char)
            && domain.split('.').all(domain_label);
        if valid {
            Ok(EmailAddress(text.to_owned()))
        } else {
            Err(EmailError)
        }
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.masked())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn check(text: &str, valid: bool) {
        assert_eq!(text.parse::<EmailAddress>().is_ok(), valid, "{text:?}");
    }

    #[test]
    fn accepts_one_bare_address() {
        check("alice@example.org", true);
        check("alice.martin+shop@mail.example.org", true);
        check("root@localhost", true);
        check("zoé@exemple.fr", true);
        check("o'brien@xn--exmple-cua.fr", true);
        check("Alice <alice@example.org>", false);
        check("<alice@example.org>", false);
        check("alice@example.org, bob@example.org", false);
        check("alice@example.org\r\nBcc: eve@example.org", false);
        check("alice@example.org\n", false);
        check("alice @example.org", false);
        check("\"alice\"@example.org", false);
        check("alice(comment)@example.org", false);
        check("alice@@example.org", false);
        check("a@b@example.org", false);
        check("alice", false);
        check("@example.org", false);
        check("alice@", false);
        check(".alice@example.org", false);
        check("al..ice@example.org", false);
        check("alice@example..org", false);
        check("alice@-example.org", false);
        check("alice@example.org.", false);
        check("alice@[127.0.0.1]", false);
        check("", false);
    }

    #[test]
    fn at_most_254_octets() {
        let domain = format!(
            "{}.{}.{}.org",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63)
        );
        let longest = format!("{}@{domain}", "x".repeat(254 - domain.len() - 1));
        assert_eq!(longest.len(), 254);
        check(&longest, true);
        check(&format!("x{longest}"), false);
        check(&format!("{}@example.org", "x".repeat(65)), false);
        // Octets, not characters: 64 two-octet letters are 128 octets.
        let wide = format!("{}@example.org", "é".repeat(64));
        check(&wide, false);
    }

    #[test]
    fn masked_keeps_the_domain() {
        let address: EmailAddress = "alice@example.org".parse().unwrap();
        assert_eq!(address.masked(), "a***@example.org");
        assert_eq!(format!("{address:?}"), "a***@example.org");
    }
}
