//! The notary's pages: the client's envelopes, the station (the one page that runs a
//! script: it hashes the files on the client's computer and sends them), and an
//! envelope's page (its files and digests, the seal form while it waits, what was made
//! once notarized and how to check it).

use askama::Template;

#[derive(Template)]
#[template(path = "notary/list.html")]
pub(crate) struct List {
    pub envelopes: Vec<Row>,
}

/// One of the client's envelopes, in the list.
pub(crate) struct Row {
    pub id: String,
    pub state: &'static str,
    /// The state's class, for its colour.
    pub class: &'static str,
    pub files: usize,
    /// The first file's name (empty for an envelope whose manifest never came).
    pub first_name: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "notary/station.html")]
pub(crate) struct Station<'a> {
    pub csrf: &'a str,
    /// The masked phone the seal goes to.
    pub phone: String,
    pub files_max: u32,
    pub file_bytes_max: u64,
    pub envelope_bytes_max: u64,
    /// The limits as people read them ("1 GiB").
    pub file_size_max: String,
    pub envelope_size_max: String,
    /// The scripts, in the order the page loads them.
    pub scripts: Vec<Script>,
}

/// A script the station page loads, and the integrity value that names its bytes.
pub(crate) struct Script {
    pub src: String,
    pub integrity: String,
}

#[derive(Template)]
#[template(path = "notary/envelope.html")]
pub(crate) struct Envelope<'a> {
    pub id: &'a str,
    pub alert: Option<&'a str>,
    pub notice: Option<&'a str>,
    pub state: &'static str,
    pub class: &'static str,
    /// Why it was refused or why it waits, in plain words.
    pub explanation: Option<String>,
    pub created: String,
    pub notarized: Option<String>,
    pub retain_until: Option<String>,
    /// The manifest's SHA-256, in groups of four hex digits.
    pub manifest_digest: Option<String>,
    pub files: Vec<FileRow>,
    pub destinations: Vec<Destination>,
    /// The container can be downloaded.
    pub container: bool,
    pub action: Action<'a>,
    /// It may be delivered (notarized, its content kept, the notary here).
    pub deliverable: bool,
    pub csrf: &'a str,
    /// Its deliveries, newest first.
    pub deliveries: Vec<Delivery>,
}

/// One delivery of an envelope, as its sender sees it.
pub(crate) struct Delivery {
    pub id: String,
    pub deadline: String,
    pub recipients: Vec<DeliveryRecipient>,
}

pub(crate) struct DeliveryRecipient {
    pub position: u32,
    /// Its place counted from 1, as people count.
    pub number: u32,
    pub email: String,
    pub state: &'static str,
    pub class: &'static str,
}

/// One file of an envelope.
pub(crate) struct FileRow {
    pub index: u32,
    pub name: String,
    /// The name as a POSIX shell word, for the commands shown.
    pub shell_name: String,
    pub size: String,
    /// Its SHA-256, in groups of four hex digits.
    pub digest: String,
    pub signed_at: Option<String>,
    /// The file as received can be downloaded.
    pub download: bool,
    /// Its signature (`.p7s`) can be downloaded.
    pub signature: bool,
    /// The name its signed PDF downloads as, when there is one.
    pub signed_pdf: Option<String>,
    /// Why a file that looks like a PDF has no PDF signature.
    pub pdf_note: Option<String>,
}

pub(crate) struct Destination {
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// What the client may do where the envelope stands.
pub(crate) enum Action<'a> {
    /// Type the seal (or ask for a new one).
    Seal {
        csrf: &'a str,
        phone: String,
        until: String,
        tries_left: u32,
    },
    /// The seal's time passed, or none could be sent: ask for a new one.
    NewSeal {
        csrf: &'a str,
        phone: String,
    },
    Nothing,
}

/// A size in bytes as people read it: "1,234 bytes", "3.2 MiB".
pub(crate) fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} byte{}", if bytes == 1 { "" } else { "s" });
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `name` as one word of a POSIX shell command: as it is when it holds only letters,
/// digits, `.`, `-` and `_`, else between single quotes (a `'` in it written `'\''`), so
/// that a command shown with it can be pasted whatever it holds; a name that begins
/// with `-` gets `./` before it, so that no program takes it for an option.
pub(crate) fn shell_word(name: &str) -> String {
    let path = if name.starts_with('-') {
        format!("./{name}")
    } else {
        name.to_owned()
    };
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'));
    if plain && !path.is_empty() {
        path
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::views::tests::{HOSTILE, check_escaped};

    fn file(name: &str) -> FileRow {
        FileRow {
            index: 0,
            name: name.into(),
            shell_name: shell_word(name),
            size: "12 bytes".into(),
            digest: "0000 1111".into(),
            signed_at: Some(HOSTILE.into()),
            download: true,
            signature: true,
            signed_pdf: Some(format!("{name}.signed.pdf")),
            pdf_note: Some(HOSTILE.into()),
        }
    }

    #[test]
    fn the_list_escapes_names() {
        let row = Row {
            id: "0123".into(),
            state: "notarized",
            class: "paid",
            files: 3,
            first_name: HOSTILE.into(),
            created: HOSTILE.into(),
        };
        let page = List {
            envelopes: vec![row],
        }
        .render()
        .unwrap();
        check_escaped(&page);
        assert!(page.contains("href=\"/wallet/envelopes/0123\""), "{page}");
        assert!(page.contains("href=\"/wallet/envelopes/new\""), "{page}");
        let empty = List {
            envelopes: Vec::new(),
        }
        .render()
        .unwrap();
        assert!(empty.contains("No envelope yet."), "{empty}");
    }

    #[test]
    fn the_station_names_its_scripts_with_their_integrity_and_escapes_the_token() {
        let page = Station {
            csrf: HOSTILE,
            phone: HOSTILE.into(),
            files_max: 20,
            file_bytes_max: 1 << 30,
            envelope_bytes_max: 2 << 30,
            file_size_max: size_text(1 << 30),
            envelope_size_max: size_text(2 << 30),
            scripts: vec![Script {
                src: "/static/sha256.js".into(),
                integrity: "sha384-abc".into(),
            }],
        }
        .render()
        .unwrap();
        // The one page with a script: only the one named, from this origin, with SRI.
        let without_script = page.replace(
            "<script src=\"/static/sha256.js\" integrity=\"sha384-abc\" defer></script>",
            "",
        );
        assert_ne!(without_script, page, "{page}");
        check_escaped(&without_script);
        assert!(
            page.contains("<meta name=\"csrf-token\" content=\"&#60;script"),
            "{page}"
        );
        for id in [
            "id=\"notary\" class=\"station\" data-files-max=\"20\" \
             data-file-bytes-max=\"1073741824\" data-envelope-bytes-max=\"2147483648\"",
            "id=\"notary-files-input\"",
            "id=\"notary-files\"",
            "id=\"notary-destinations\"",
            "id=\"notary-add-destination\"",
            "id=\"notary-send\"",
            "id=\"notary-progress\"",
            "id=\"notary-status\"",
            "id=\"notary-error\"",
            "id=\"notary-seal-form\"",
            "id=\"notary-seal\"",
            "id=\"notary-seal-resend\"",
            "id=\"notary-result\"",
            "id=\"notary-envelope-link\"",
        ] {
            assert!(page.contains(id), "{id} in {page}");
        }
        assert!(page.contains("Up to 20 files, 1 GiB each"), "{page}");
    }

    #[test]
    fn an_envelope_escapes_names_reasons_and_destinations_in_every_state() {
        let actions = [
            Action::Seal {
                csrf: HOSTILE,
                phone: HOSTILE.into(),
                until: HOSTILE.into(),
                tries_left: 2,
            },
            Action::NewSeal {
                csrf: HOSTILE,
                phone: HOSTILE.into(),
            },
            Action::Nothing,
        ];
        for action in actions {
            let page = Envelope {
                id: "0123",
                alert: Some(HOSTILE),
                notice: Some(HOSTILE),
                state: "notarized",
                class: "paid",
                explanation: Some(HOSTILE.into()),
                created: HOSTILE.into(),
                notarized: Some(HOSTILE.into()),
                retain_until: Some(HOSTILE.into()),
                manifest_digest: Some("0000 1111".into()),
                files: vec![file(HOSTILE)],
                destinations: vec![Destination {
                    email: Some(HOSTILE.into()),
                    phone: Some(HOSTILE.into()),
                }],
                container: true,
                action,
                deliverable: true,
                csrf: "token",
                deliveries: vec![Delivery {
                    id: "d123".into(),
                    deadline: HOSTILE.into(),
                    recipients: vec![DeliveryRecipient {
                        position: 0,
                        number: 1,
                        email: HOSTILE.into(),
                        state: "accepted",
                        class: "paid",
                    }],
                }],
            }
            .render()
            .unwrap();
            check_escaped(&page);
            assert!(
                page.contains("/api/v1/deliveries/d123/recipients/0/receipt"),
                "{page}"
            );
            assert!(
                page.contains("action=\"/wallet/envelopes/0123/deliveries\""),
                "{page}"
            );
            assert!(page.contains("/api/v1/envelopes/0123/evidence"), "{page}");
            assert!(
                page.contains("/api/v1/envelopes/0123/container.asice"),
                "{page}"
            );
            assert!(
                page.contains("/api/v1/envelopes/0123/files/0/signature.p7s"),
                "{page}"
            );
        }
    }

    #[test]
    fn the_seal_form_posts_the_seal_and_the_token_without_a_script() {
        let page = Envelope {
            id: "0123",
            alert: None,
            notice: None,
            state: "waiting for the seal",
            class: "held",
            explanation: None,
            created: String::new(),
            notarized: None,
            retain_until: None,
            manifest_digest: None,
            files: vec![file("a.txt")],
            destinations: Vec::new(),
            container: false,
            deliverable: false,
            csrf: "token",
            deliveries: Vec::new(),
            action: Action::Seal {
                csrf: "token",
                phone: "•••• 5678".into(),
                until: "14:05 UTC".into(),
                tries_left: 3,
            },
        }
        .render()
        .unwrap();
        assert!(
            page.contains("<form method=\"post\" action=\"/wallet/envelopes/0123/seal\""),
            "{page}"
        );
        assert!(
            page.contains("<form method=\"post\" action=\"/wallet/envelopes/0123/resend\""),
            "{page}"
        );
        assert!(
            page.contains("<input type=\"hidden\" name=\"csrf\" value=\"token\">"),
            "{page}"
        );
        assert!(page.contains("name=\"seal\""), "{page}");
        assert!(page.contains("3 tries left"), "{page}");
        assert!(!page.contains("<script"), "{page}");
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        for (bytes, text) in [
            (0, "0 bytes"),
            (1, "1 byte"),
            (1023, "1023 bytes"),
            (1024, "1 KiB"),
            (1536, "1.5 KiB"),
            (50 << 20, "50 MiB"),
            (1 << 30, "1 GiB"),
        ] {
            assert_eq!(size_text(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn names_become_shell_words_that_paste_safely() {
        for (name, word) in [
            ("contrat.pdf", "contrat.pdf"),
            ("報告 été.txt", "'報告 été.txt'"),
            ("l'acte.pdf", "'l'\\''acte.pdf'"),
            ("$(reboot).txt", "'$(reboot).txt'"),
            ("-rf", "./-rf"),
            ("-r f", "'./-r f'"),
        ] {
            assert_eq!(shell_word(name), word, "{name}");
        }
    }
}
