//! The check as a PDF (Figure 3: the client keeps the image of the check): the same
//! layout as the SVG image (`pay::check_lines`), drawn on one page of the image's size in
//! points with PDF's standard fonts (Helvetica, Courier: nothing embedded, nothing
//! fetched). Text is composed (NFC) and written in WinAnsiEncoding; a character it lacks
//! is written `?`, and the page then says that the image shows the text in full.

use super::pay::{CHECK_HEIGHT, CHECK_WIDTH, CheckText};
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, StringFormat, dictionary};
use unicode_normalization::UnicodeNormalization;

/// A colour as PDF takes it (0 to 1 each).
type Rgb = (f32, f32, f32);

fn rgb(hex: u32) -> Rgb {
    let channel = |shift: u32| ((hex >> shift) & 0xff) as f32 / 255.0;
    (channel(16), channel(8), channel(0))
}

const INK: u32 = 0x1c2430;
const MUTED: u32 = 0x6b7280;
const GREEN: u32 = 0x1f7a4d;
const PAPER: u32 = 0xfbf8ef;
const BORDER: u32 = 0xb9a77a;
const RULE: u32 = 0xd8cba5;

/// How a class of the SVG's stylesheet is drawn: font resource, size, colour, spacing
/// between letters.
fn style(class: &str) -> (&'static str, f32, u32, f32) {
    match class {
        "label" => ("F1", 11.0, MUTED, 2.0),
        "strong" => ("F2", 20.0, INK, 0.0),
        "amount" => ("F2", 26.0, INK, 0.0),
        "mono" => ("F3", 15.0, INK, 0.0),
        "status" => ("F2", 13.0, GREEN, 0.0),
        "small" => ("F1", 10.0, MUTED, 0.0),
        _ => ("F1", 15.0, INK, 0.0),
    }
}

fn op(operator: &str, operands: Vec<Object>) -> Operation {
    Operation::new(operator, operands)
}

fn reals(values: &[f32]) -> Vec<Object> {
    values.iter().map(|value| Object::Real(*value)).collect()
}

fn fill(colour: Rgb) -> Operation {
    op("rg", reals(&[colour.0, colour.1, colour.2]))
}

fn stroke(colour: Rgb) -> Operation {
    op("RG", reals(&[colour.0, colour.1, colour.2]))
}

/// A rectangle with rounded corners, given as the SVG gives it (top left, y down).
fn rounded(x: f32, y: f32, width: f32, height: f32, radius: f32) -> Vec<Operation> {
    // A quarter circle as one Bézier curve: its control points at 0.5523 of the radius.
    let k = radius * 0.552_284_8;
    let (left, right) = (x, x + width);
    let (top, bottom) = (CHECK_HEIGHT - y, CHECK_HEIGHT - y - height);
    vec![
        op("m", reals(&[left + radius, bottom])),
        op("l", reals(&[right - radius, bottom])),
        op(
            "c",
            reals(&[
                right - radius + k,
                bottom,
                right,
                bottom + radius - k,
                right,
                bottom + radius,
            ]),
        ),
        op("l", reals(&[right, top - radius])),
        op(
            "c",
            reals(&[
                right,
                top - radius + k,
                right - radius + k,
                top,
                right - radius,
                top,
            ]),
        ),
        op("l", reals(&[left + radius, top])),
        op(
            "c",
            reals(&[
                left + radius - k,
                top,
                left,
                top - radius + k,
                left,
                top - radius,
            ]),
        ),
        op("l", reals(&[left, bottom + radius])),
        op(
            "c",
            reals(&[
                left,
                bottom + radius - k,
                left + radius - k,
                bottom,
                left + radius,
                bottom,
            ]),
        ),
        op("h", vec![]),
    ]
}

/// `text` in WinAnsiEncoding (Windows-1252), composed first (an accent typed apart is
/// one letter): Latin-1 as is, the typographic signs it adds, `?` for the rest.
fn win_ansi(text: &str) -> Vec<u8> {
    text.nfc()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            // Spaces that only differ in width (French thousands, narrow no-break).
            '\u{2007}' | '\u{2009}' | '\u{202f}' => b' ',
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8a,
            '‹' => 0x8b,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9a,
            '›' => 0x9b,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            _ => b'?',
        })
        .collect()
}

/// Whether WinAnsiEncoding lacks a character of `text` (it would be written `?`).
fn lacks(text: &str) -> bool {
    text.nfc()
        .zip(win_ansi(text))
        .any(|(c, byte)| byte == b'?' && c != '?')
}

/// The page's drawing: the paper, its borders, the amount's box, the rule, the lines.
fn drawing(lines: &[CheckText]) -> Vec<Operation> {
    let mut ops = vec![op("q", vec![])];
    // The paper and its border.
    ops.push(fill(rgb(PAPER)));
    ops.push(stroke(rgb(BORDER)));
    ops.push(op("w", reals(&[2.0])));
    ops.extend(rounded(4.0, 4.0, 892.0, 392.0, 14.0));
    ops.push(op("B", vec![]));
    // The dotted frame inside.
    ops.push(stroke(rgb(RULE)));
    ops.push(op("w", reals(&[1.0])));
    ops.push(op(
        "d",
        vec![Object::Array(reals(&[2.0, 3.0])), Object::Integer(0)],
    ));
    ops.extend(rounded(14.0, 14.0, 872.0, 372.0, 10.0));
    ops.push(op("S", vec![]));
    ops.push(op("d", vec![Object::Array(vec![]), Object::Integer(0)]));
    // The amount's box.
    ops.push(fill(rgb(0xffffff)));
    ops.extend(rounded(604.0, 100.0, 264.0, 60.0, 6.0));
    ops.push(op("B", vec![]));
    // The rule under the amount in words.
    ops.push(op("m", reals(&[32.0, CHECK_HEIGHT - 240.0])));
    ops.push(op("l", reals(&[868.0, CHECK_HEIGHT - 240.0])));
    ops.push(op("S", vec![]));
    let missing = CheckText {
        x: 520,
        y: 372,
        class: "small",
        content: "Some characters cannot be shown here: the check's image (SVG) shows them.".into(),
    };
    let lacking = lines.iter().any(|line| lacks(&line.content));
    for line in lines.iter().chain(lacking.then_some(&missing)) {
        if line.content.is_empty() {
            continue;
        }
        let (font, size, colour, spacing) = style(line.class);
        ops.push(op("BT", vec![]));
        ops.push(fill(rgb(colour)));
        ops.push(op(
            "Tf",
            vec![Object::Name(font.into()), Object::Real(size)],
        ));
        ops.push(op("Tc", reals(&[spacing])));
        // The SVG's y is the baseline, measured down from the top.
        ops.push(op(
            "Td",
            reals(&[line.x as f32, CHECK_HEIGHT - line.y as f32]),
        ));
        // As SVG shows text: runs of white space as one space.
        let shown = line
            .content
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        ops.push(op("Tj", vec![Object::string_literal(win_ansi(&shown))]));
        ops.push(op("ET", vec![]));
    }
    ops.push(op("Q", vec![]));
    ops
}

/// The PDF of the check whose lines are `lines`, titled `title`, dated `date` (PDF's
/// `D:YYYYMMDDHHmmSSZ`): the same bytes each time for the same check.
pub(crate) fn check_pdf(lines: &[CheckText], title: &str, date: &str) -> Result<Vec<u8>, String> {
    let mut document = Document::with_version("1.7");
    let pages_id = document.new_object_id();
    let font = |document: &mut Document, name: &str| {
        document.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => Object::Name(name.as_bytes().to_vec()),
            "Encoding" => "WinAnsiEncoding",
        })
    };
    let helvetica = font(&mut document, "Helvetica");
    let bold = font(&mut document, "Helvetica-Bold");
    let courier = font(&mut document, "Courier");
    let resources = document.add_object(dictionary! {
        "Font" => dictionary! { "F1" => helvetica, "F2" => bold, "F3" => courier },
    });
    let content = Content {
        operations: drawing(lines),
    }
    .encode()
    .map_err(|error| error.to_string())?;
    let content = document.add_object(Stream::new(dictionary! {}, content));
    let page = document.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content,
        "Resources" => resources,
        "MediaBox" => vec![0.into(), 0.into(), Object::Real(CHECK_WIDTH), Object::Real(CHECK_HEIGHT)],
    });
    document.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page.into()],
            "Count" => 1,
        }),
    );
    let catalog = document.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    let info = document.add_object(dictionary! {
        // Information strings are PDFDocEncoding or UTF-16BE: the latter, whole.
        "Title" => Object::String(utf16be(title), StringFormat::Hexadecimal),
        "Producer" => Object::string_literal("sceau"),
        "CreationDate" => Object::string_literal(date),
    });
    document.trailer.set("Root", catalog);
    document.trailer.set("Info", info);
    let mut bytes = Vec::new();
    document
        .save_to(&mut bytes)
        .map_err(|error| error.to_string())?;
    Ok(bytes)
}

/// The classes a check's lines are drawn in (the SVG stylesheet's), and one it lacks.
const CLASSES: [&str; 8] = [
    "label", "strong", "amount", "mono", "status", "small", "value", "other",
];

/// A check's PDF with `texts` for its lines, one under the other in each class in turn,
/// titled `title`: what any merchant's name, object or reference put on a check becomes.
/// Every text gives a PDF (the fuzz target `check_pdf` holds it to that: its one user).
#[doc(hidden)]
pub fn check_pdf_of_texts(texts: &[&str], title: &str) -> Result<Vec<u8>, String> {
    let lines: Vec<CheckText> = (0_u32..)
        .zip(texts)
        .map(|(index, text)| CheckText {
            x: 32,
            y: 48 + 22 * (index % 16),
            class: CLASSES[index as usize % CLASSES.len()],
            content: (*text).to_owned(),
        })
        .collect();
    check_pdf(&lines, title, "D:20261207000000Z")
}

/// A text string as UTF-16BE with its byte order mark.
fn utf16be(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xfe, 0xff];
    bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    bytes
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn text_is_written_in_win_ansi_and_what_it_lacks_is_a_question_mark() {
        assert_eq!(win_ansi("Café 12,50 €"), b"Caf\xe9 12,50 \x80");
        assert_eq!(win_ansi("•••• 1234 · ok"), b"\x95\x95\x95\x95 1234 \xb7 ok");
        assert_eq!(win_ansi("1\u{202f}000 東京"), b"1 000 ??");
        assert_eq!(win_ansi("(a) \\ b"), b"(a) \\ b");
        // An accent typed apart is composed; C1 controls are not WinAnsi's typography.
        assert_eq!(win_ansi("e\u{301}t\u{e9}"), b"\xe9t\xe9");
        assert_eq!(win_ansi("\u{85}\u{9c}"), b"??");
        assert!(lacks("Łódź") && !lacks("Théâtre?") && !lacks("e\u{301}"));
        assert_eq!(utf16be("Œ€"), [0xfe, 0xff, 0x01, 0x52, 0x20, 0xac]);
    }

    #[test]
    fn hostile_texts_give_a_pdf_that_reads_back() {
        let texts = [
            "(unbalanced \\ parenthesis",
            ") endstream endobj %%EOF",
            "\u{0}\u{7}\r\n\t",
            "\u{202e}RTL \u{1f600} \u{fffd}",
            "e\u{301}\u{301}\u{301}",
            "",
            &"W".repeat(5_000),
        ];
        let bytes = check_pdf_of_texts(&texts, "Check ) (\\ \u{1f600}").unwrap();
        let document = Document::load_mem(&bytes).unwrap();
        assert_eq!(document.get_pages().len(), 1);
        let text = document.extract_text(&[1]).unwrap();
        assert!(text.contains("(unbalanced \\ parenthesis"), "{text}");
        assert!(text.contains(") endstream endobj %%EOF"), "{text}");
        assert!(
            text.contains("cannot be shown"),
            "the emoji is said: {text}"
        );
    }

    #[test]
    fn the_pdf_is_one_page_of_the_image_size_with_every_line() {
        let lines = vec![
            CheckText {
                x: 32,
                y: 48,
                class: "label",
                content: "ISSUER".into(),
            },
            CheckText {
                x: 620,
                y: 146,
                class: "amount",
                content: "12.50 EUR (paid)".into(),
            },
        ];
        let bytes = check_pdf(&lines, "Check co_1", "D:20261207120000Z").unwrap();
        assert!(bytes.starts_with(b"%PDF-1.7"));
        let document = Document::load_mem(&bytes).unwrap();
        assert_eq!(document.get_pages().len(), 1);
        let text = document.extract_text(&[1]).unwrap();
        assert!(text.contains("ISSUER"), "{text}");
        assert!(text.contains("12.50 EUR (paid)"), "{text}");
        assert!(!text.contains("cannot be shown"), "{text}");
        // The same check, the same bytes.
        assert_eq!(
            check_pdf(&lines, "Check co_1", "D:20261207120000Z").unwrap(),
            bytes
        );
        // A name WinAnsi cannot write: the page says where it is written in full.
        let mut lines = lines;
        lines[0].content = "Łódź".into();
        let bytes = check_pdf(&lines, "Check co_1", "D:20261207120000Z").unwrap();
        let text = Document::load_mem(&bytes)
            .unwrap()
            .extract_text(&[1])
            .unwrap();
        assert!(text.contains("cannot be shown here"), "{text}");
    }
}
