//! The client's signature pages: hand a document over (it becomes an envelope of one
//! file), and see a request made before that, read-only.

use askama::Template;

#[derive(Template)]
#[template(path = "signatures/list.html")]
pub(crate) struct List<'a> {
    pub alert: Option<&'a str>,
    pub csrf: &'a str,
    /// The largest document taken, as people read it ("8 MiB").
    pub document_limit: String,
    pub requests: Vec<Row>,
}

/// One of the client's signature requests, in the list.
pub(crate) struct Row {
    /// The envelope's page, or a request's made before.
    pub href: String,
    pub name: String,
    pub state: &'static str,
    pub created: String,
}

/// A request made before signature requests became envelopes, read-only.
#[derive(Template)]
#[template(path = "signatures/request.html")]
pub(crate) struct Request<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub state: &'static str,
    /// The document's SHA-256, in groups of four hex digits.
    pub digest: String,
    pub created: String,
    /// When it was signed, if it was.
    pub signed: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::views::tests::{HOSTILE, check_escaped};

    #[test]
    fn the_list_escapes_names_and_messages() {
        let row = Row {
            href: "/wallet/envelopes/0".into(),
            name: HOSTILE.into(),
            state: "signed",
            created: HOSTILE.into(),
        };
        let page = List {
            alert: Some(HOSTILE),
            csrf: HOSTILE,
            document_limit: "16 MiB".into(),
            requests: vec![row],
        }
        .render()
        .unwrap();
        check_escaped(&page);
        assert!(page.contains("<a href=\"/wallet/envelopes/0\">&#60;script"));
        assert!(page.contains("Up to 16 MiB."), "{page}");
    }

    #[test]
    fn a_request_made_before_escapes_the_document_name_everywhere() {
        for signed in [Some(HOSTILE.to_owned()), None] {
            let page = Request {
                id: "sig_0",
                name: HOSTILE,
                state: "signed",
                digest: "0000 1111".into(),
                created: HOSTILE.into(),
                signed,
            }
            .render()
            .unwrap();
            check_escaped(&page);
            assert!(page.contains("<title>&#60;script"), "{page}");
        }
    }
}
