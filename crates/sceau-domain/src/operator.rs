//! The issuer's operators (issue 23): who signs in to the console, and what each of their
//! actions says in the evidence. An operator is not a client and holds no API token: an
//! account made with the CLI, a password (Argon2id), and the clients' pauses after wrong
//! passwords (`sign_in`), which only the CLI lifts (an operator has no phone of record).

/// An operator's login: 1 to 64 of `a`–`z`, `0`–`9`, `.`, `_`, `-`, starting with a
/// letter (what appears in evidence records and logs, so nothing a reader could take for
/// something else).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OperatorLogin(String);

/// Why a login is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an operator's login is 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter")]
pub struct LoginRefused;

impl std::str::FromStr for OperatorLogin {
    type Err = LoginRefused;

    fn from_str(login: &str) -> Result<OperatorLogin, LoginRefused> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c);
        let starts_with_letter = login.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if login.len() <= 64 && starts_with_letter && login.chars().all(allowed) {
            Ok(OperatorLogin(login.to_owned()))
        } else {
            Err(LoginRefused)
        }
    }
}

impl OperatorLogin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What was done to a client from the console or the admin interfaces, as its evidence
/// record says it (its type; the record is on the client's chain, `client:{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    /// A client's payments declined from now on (their wallet says so).
    ClientBlocked { client_id: i64 },
    /// A client's payments accepted again.
    ClientUnblocked { client_id: i64 },
}

impl OperatorAction {
    /// Blocking `client_id` (`blocks`) or unblocking them.
    pub fn block(client_id: i64, blocks: bool) -> OperatorAction {
        if blocks {
            OperatorAction::ClientBlocked { client_id }
        } else {
            OperatorAction::ClientUnblocked { client_id }
        }
    }

    /// The evidence record's type.
    pub fn kind(&self) -> &'static str {
        match self {
            OperatorAction::ClientBlocked { .. } => "client.blocked",
            OperatorAction::ClientUnblocked { .. } => "client.unblocked",
        }
    }

    /// The client the action was taken on.
    pub fn client_id(&self) -> i64 {
        match self {
            OperatorAction::ClientBlocked { client_id }
            | OperatorAction::ClientUnblocked { client_id } => *client_id,
        }
    }

    /// Whether the client ends blocked.
    pub fn blocks(&self) -> bool {
        matches!(self, OperatorAction::ClientBlocked { .. })
    }
}

/// Who acted, as the record names them: an operator of the console (by identifier and
/// login), or the holder of the admin token (the admin API, the CLI on the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Operator(i64),
    Admin,
}

/// The evidence subject of what is done to a client: one chain per client.
pub fn client_subject(client_id: i64) -> String {
    format!("client:{client_id}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_a_plain_name() {
        for good in ["ops", "a", "jane.doe", "night_shift-2"] {
            assert_eq!(good.parse::<OperatorLogin>().unwrap().as_str(), good);
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "2nd",
            "Jane",
            "jane doe",
            "é",
            "ops\n",
            ".ops",
            long.as_str(),
        ] {
            assert_eq!(bad.parse::<OperatorLogin>(), Err(LoginRefused), "{bad:?}");
        }
        assert!("a".repeat(64).parse::<OperatorLogin>().is_ok());
    }

    #[test]
    fn each_action_says_what_it_did_to_whom() {
        let blocked = OperatorAction::ClientBlocked { client_id: 7 };
        let unblocked = OperatorAction::ClientUnblocked { client_id: 7 };
        assert_eq!(
            (blocked.kind(), blocked.client_id(), blocked.blocks()),
            ("client.blocked", 7, true)
        );
        assert_eq!(
            (unblocked.kind(), unblocked.client_id(), unblocked.blocks()),
            ("client.unblocked", 7, false)
        );
        assert_eq!(client_subject(3), "client:3");
        assert_eq!(OperatorAction::block(7, true), blocked);
        assert_eq!(OperatorAction::block(7, false), unblocked);
    }
}
