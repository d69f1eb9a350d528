//! The check's PDF with any texts a merchant or client could put on it (the first line
//! of the input is the title, each further line a line of the check): never a panic,
//! one page that a PDF reader reads back, whose drawing holds only the operators the
//! check draws with and one text run per line (no text breaks out of its string into
//! operators of its own), each no longer than its line, and ASCII lines exactly as
//! written; the title reads back whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lopdf::content::Content;
use lopdf::{Document, Object};
use sceau_server::views::check_pdf::check_pdf_of_texts;

/// The operators the check is drawn with.
const DRAWN_WITH: [&str; 17] = [
    "q", "Q", "rg", "RG", "w", "d", "m", "l", "c", "h", "B", "S", "BT", "ET", "Tf", "Tc", "Td",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let title = lines.next().unwrap_or_default();
    let texts: Vec<&str> = lines.take(32).collect();
    let pdf = check_pdf_of_texts(&texts, title).expect("every text gives a PDF");
    let document = Document::load_mem(&pdf).expect("the PDF reads back");
    let pages = document.get_pages();
    assert_eq!(pages.len(), 1);
    let page = *pages.values().next().expect("a page");
    let content = document.get_page_content(page);
    let drawing = Content::decode(&content).expect("its content decodes");
    let mut runs = Vec::new();
    for operation in &drawing.operations {
        match operation.operator.as_str() {
            "Tj" => match operation.operands.as_slice() {
                [Object::String(bytes, _)] => runs.push(bytes.clone()),
                other => panic!("a text run of {other:?}"),
            },
            operator => assert!(DRAWN_WITH.contains(&operator), "{operator}"),
        }
    }
    // One run per line with text, and perhaps the notice of what cannot be shown.
    let shown: Vec<String> = texts
        .iter()
        .filter(|line| !line.is_empty())
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        runs.len() == shown.len() || runs.len() == shown.len() + 1,
        "{} runs for {} lines",
        runs.len(),
        shown.len()
    );
    for (run, line) in runs.iter().zip(&shown) {
        assert!(run.len() <= line.chars().count(), "{run:?} for {line:?}");
        if line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            assert_eq!(run.as_slice(), line.as_bytes());
        }
    }
    let info = document
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .and_then(|id| document.get_dictionary(id))
        .expect("the document's information");
    let written = info
        .get(b"Title")
        .and_then(Object::as_str)
        .expect("its title");
    let units: Vec<u16> = written[2..]
        .chunks(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect();
    assert_eq!(&written[..2], [0xfe, 0xff]);
    assert_eq!(String::from_utf16(&units).expect("UTF-16"), title);
});
