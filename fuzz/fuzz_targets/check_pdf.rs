//! The check's PDF with any texts a merchant or client could put on it (the first line
//! of the input is the title, each further line a line of the check): never a panic,
//! always one page that a PDF reader reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_server::views::check_pdf::check_pdf_of_texts;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let title = lines.next().unwrap_or_default();
    let texts: Vec<&str> = lines.take(32).collect();
    let pdf = check_pdf_of_texts(&texts, title).expect("every text gives a PDF");
    assert!(pdf.starts_with(b"%PDF-1.7"));
    let document = lopdf::Document::load_mem(&pdf).expect("the PDF reads back");
    assert_eq!(document.get_pages().len(), 1);
});
