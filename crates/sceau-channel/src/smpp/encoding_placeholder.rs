//! Stand-in for `crate::sms_text` (GSM 03.38 and UCS-2, concatenation) until that module
//! is merged; it has the same interface. ASCII goes as is with `data_coding` 0 (wrong
//! for the few ASCII characters GSM 03.38 places elsewhere), anything else as UCS-2.
//! Surrogate pairs are not kept together here. To be deleted on that merge.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gsm7,
    Ucs2,
}

impl Coding {
    pub fn data_coding(self) -> u8 {
        match self {
            Coding::Gsm7 => 0x00,
            Coding::Ucs2 => 0x08,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub coding: Coding,
    pub parts: Vec<Vec<u8>>,
}

impl Encoded {
    pub fn udhi(&self) -> bool {
        self.parts.len() > 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsTextError {
    #[error("the text is empty")]
    Empty,
    #[error("the text needs more than 255 short messages")]
    TooLong,
}

pub fn encode(text: &str, reference: u8) -> Result<Encoded, SmsTextError> {
    if text.is_empty() {
        return Err(SmsTextError::Empty);
    }
    let (coding, octets, single, part) = if text.is_ascii() {
        (Coding::Gsm7, text.as_bytes().to_vec(), 160, 153)
    } else {
        let octets = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        (Coding::Ucs2, octets, 140, 134)
    };
    if octets.len() <= single {
        return Ok(Encoded {
            coding,
            parts: vec![octets],
        });
    }
    let chunks: Vec<&[u8]> = octets.chunks(part).collect();
    let total = u8::try_from(chunks.len()).map_err(|_| SmsTextError::TooLong)?;
    let parts = (1..=total)
        .zip(chunks)
        .map(|(sequence, chunk)| {
            let mut short_message = vec![5, 0, 3, reference, total, sequence];
            short_message.extend_from_slice(chunk);
            short_message
        })
        .collect();
    Ok(Encoded { coding, parts })
}
