//! The client's signature pages: hand a document over, type back the seal sent for it,
//! download the signature.

use askama::Template;

#[derive(Template)]
#[template(path = "signatures/list.html")]
pub(crate) struct List<'a> {
    pub alert: Option<&'a str>,
    pub csrf: &'a str,
    /// The largest document taken, in MiB.
    pub document_mib: usize,
    pub requests: Vec<Row>,
}

/// One of the client's signature requests, in the list.
pub(crate) struct Row {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub created: String,
}

#[derive(Template)]
#[template(path = "signatures/request.html")]
pub(crate) struct Request<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub alert: Option<&'a str>,
    pub state: &'static str,
    /// The document's SHA-256, in groups of four hex digits.
    pub digest: String,
    pub created: String,
    pub action: Action<'a>,
}

/// What the client may do, or learn, where a request stands.
pub(crate) enum Action<'a> {
    Seal {
        csrf: &'a str,
        phone: String,
        until: String,
        tries_left: u32,
    },
    SealExpired,
    Sealed,
    Signed {
        at: String,
    },
    Failed,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::views::tests::{HOSTILE, check_escaped};

    #[test]
    fn the_list_escapes_names_and_messages() {
        let row = Row {
            id: "sig_0".into(),
            name: HOSTILE.into(),
            state: "signed",
            created: HOSTILE.into(),
        };
        let page = List {
            alert: Some(HOSTILE),
            csrf: HOSTILE,
            document_mib: 16,
            requests: vec![row],
        }
        .render()
        .unwrap();
        check_escaped(&page);
        assert!(page.contains("<a href=\"/wallet/signatures/sig_0\">&#60;script"));
        assert!(page.contains("Up to 16 MiB."), "{page}");
    }

    #[test]
    fn a_request_escapes_the_document_name_everywhere() {
        let actions = [
            Action::Seal {
                csrf: HOSTILE,
                phone: HOSTILE.into(),
                until: HOSTILE.into(),
                tries_left: 2,
            },
            Action::Signed { at: HOSTILE.into() },
            Action::SealExpired,
            Action::Sealed,
            Action::Failed,
        ];
        for action in actions {
            let page = Request {
                id: "sig_0",
                name: HOSTILE,
                alert: Some(HOSTILE),
                state: "signed",
                digest: "0000 1111".into(),
                created: HOSTILE.into(),
                action,
            }
            .render()
            .unwrap();
            check_escaped(&page);
            assert!(page.contains("<title>&#60;script"), "{page}");
        }
    }
}
