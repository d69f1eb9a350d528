//! Message texts on their way to short messages: never a panic, the parts give the text
//! back, each fits 140 octets once packed, and no part ends on a GSM escape or starts
//! with the second half of a surrogate pair.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_channel::sms_text::{Coding, SmsTextError, decode, encode};

const UDH_OCTETS: usize = 6;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let reference = data.len() as u8;
    let encoded = match encode(text, reference) {
        Ok(encoded) => encoded,
        Err(SmsTextError::Empty) => {
            assert!(text.is_empty());
            return;
        }
        Err(SmsTextError::TooLong) => {
            // Even surrogate pairs, the densest text, fit 255 parts of 33 characters.
            assert!(text.chars().count() > 255 * 33, "{}", text.len());
            return;
        }
    };
    assert_eq!(decode(encoded.coding, &encoded.parts).as_deref(), Ok(text));
    let several = encoded.udhi();
    assert_eq!(several, encoded.parts.len() > 1);
    for (index, part) in encoded.parts.iter().enumerate() {
        let body = if several {
            let header = [
                5,
                0,
                3,
                reference,
                encoded.parts.len() as u8,
                index as u8 + 1,
            ];
            assert_eq!(part[..UDH_OCTETS], header);
            &part[UDH_OCTETS..]
        } else {
            &part[..]
        };
        assert!(!body.is_empty());
        match encoded.coding {
            Coding::Gsm7 => {
                let header_septets = if several { 7 } else { 0 };
                assert!((header_septets + body.len()) * 7 <= 140 * 8, "{part:?}");
                assert!(body.iter().all(|septet| *septet < 0x80));
                assert_ne!(body.last(), Some(&0x1B), "{part:?}");
            }
            Coding::Ucs2 => {
                assert!(part.len() <= 140, "{part:?}");
                assert!(!(0xDC..=0xDF).contains(&body[0]), "{part:?}");
            }
        }
    }
});
