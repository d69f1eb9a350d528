//! Bank identifiers for settlement: the account (IBAN, ISO 13616) and the bank (BIC,
//! ISO 9362). A value of either type that exists is valid, so the clearing file never
//! has to check them again.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The longest IBAN any country may have (ISO 13616).
pub const IBAN_LEN_MAX: usize = 34;

/// IBAN lengths by country, from the SWIFT IBAN registry (release 101): every SEPA
/// country and all others the registry lists.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// Countries whose IBANs may take part in a SEPA credit transfer: the EU, the rest of
/// the EEA, and Andorra, Gibraltar, Monaco, San Marino, Switzerland, the United Kingdom
/// and the Vatican. Countries that joined the scheme recently are left out on purpose:
/// a transfer wrongly sent outside SEPA still arrives, one wrongly sent as SEPA is
/// refused by the bank.
const SEPA_COUNTRIES: &[&str] = &[
    "AD", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GI", "GR",
    "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MT", "NL", "NO", "PL", "PT", "RO",
    "SE", "SI", "SK", "SM", "VA",
];

/// ISO 3166-1 alpha-2 country codes (Debian iso-codes), and XK, which SWIFT uses for
/// Kosovo.
const COUNTRY_CODES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Why an IBAN or a BIC was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    #[error("IBAN must be a country code, two check digits and letters or digits")]
    IbanMalformed,
    #[error("IBAN country is not in the IBAN registry")]
    UnknownIbanCountry,
    #[error("IBAN does not have the length its country uses")]
    IbanLength,
    #[error("IBAN check digits do not match (ISO 7064 mod 97-10)")]
    IbanChecksum,
    #[error(
        "BIC must be 8 or 11 characters: bank (4 letters), country (2 letters), location (2), branch (3)"
    )]
    BicMalformed,
    #[error("BIC country is not an ISO 3166 country code")]
    UnknownBicCountry,
}

impl BankError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            BankError::IbanMalformed => "invalid_iban",
            BankError::UnknownIbanCountry => "unknown_iban_country",
            BankError::IbanLength => "iban_length",
            BankError::IbanChecksum => "iban_checksum",
            BankError::BicMalformed => "invalid_bic",
            BankError::UnknownBicCountry => "unknown_bic_country",
        }
    }
}

/// Removes spaces and uppercases; anything that is not an ASCII letter or digit is
/// refused with `malformed`. Keeps at most `length_max + 1` characters, enough for the
/// caller to see that a text is too long without storing all of it.
fn normalize(text: &str, length_max: usize, malformed: BankError) -> Result<String, BankError> {
    let mut normalized = String::with_capacity(length_max + 1);
    for character in text.chars().filter(|character| *character != ' ') {
        if !character.is_ascii_alphanumeric() {
            return Err(malformed);
        }
        if normalized.len() > length_max {
            break;
        }
        normalized.push(character.to_ascii_uppercase());
    }
    Ok(normalized)
}

/// An International Bank Account Number in electronic form: uppercase, no spaces,
/// registered length for its country, check digits verified.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

impl Iban {
    /// The electronic format, e.g. `"FR7630006000011234567890189"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter country code the IBAN starts with.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    /// Whether accounts of this country may take part in a SEPA credit transfer.
    pub fn in_sepa(&self) -> bool {
        SEPA_COUNTRIES.contains(&self.country())
    }

    /// The paper format: groups of four characters separated by spaces,
    /// e.g. `"FR76 3000 6000 0112 3456 7890 189"`.
    pub fn printable(&self) -> String {
        let groups: Vec<&str> = self
            .0
            .as_bytes()
            .chunks(4)
            .filter_map(|group| std::str::from_utf8(group).ok())
            .collect();
        groups.join(" ")
    }
}

/// ISO 7064 mod 97-10 over the IBAN rearranged (country and check digits moved to the
/// end), each letter read as two digits (A = 10 … Z = 35).
fn iban_remainder(iban: &str) -> u32 {
    let (head, tail) = iban.split_at(4);
    tail.bytes().chain(head.bytes()).fold(0, |remainder, byte| {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            _ => u32::from(byte - b'A') + 10,
        };
        let shift = if value < 10 { 10 } else { 100 };
        (remainder * shift + value) % 97
    })
}

impl FromStr for Iban {
    type Err = BankError;

    /// Accepts the electronic or the printed form, in any case: spaces are removed.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let iban = normalize(text, IBAN_LEN_MAX, BankError::IbanMalformed)?;
        let bytes = iban.as_bytes();
        if bytes.len() < 5
            || !bytes[..2].iter().all(u8::is_ascii_uppercase)
            || !bytes[2..4].iter().all(u8::is_ascii_digit)
        {
            return Err(BankError::IbanMalformed);
        }
        let (_, length) = IBAN_LENGTHS
            .iter()
            .find(|(country, _)| *country == &iban[..2])
            .ok_or(BankError::UnknownIbanCountry)?;
        if bytes.len() != *length {
            return Err(BankError::IbanLength);
        }
        // Check digits 00, 01 and 99 pass the remainder test like 97, 98 and 02 do, but
        // ISO 13616 only ever computes the latter.
        if matches!(&iban[2..4], "00" | "01" | "99") || iban_remainder(&iban) != 1 {
            return Err(BankError::IbanChecksum);
        }
        Ok(Iban(iban))
    }
}

impl TryFrom<String> for Iban {
    type Error = BankError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Iban> for String {
    fn from(iban: Iban) -> String {
        iban.0
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A Business Identifier Code (ISO 9362), 8 or 11 characters, uppercase. The location
/// code follows the pain.001 schema's pattern (`[A-Z2-9][A-NP-Z0-9]`), so every `Bic`
/// can be written into a settlement file.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bic(String);

impl Bic {
    /// The code as written, e.g. `"DEUTDEFF500"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The four-letter institution (bank) code.
    pub fn institution(&self) -> &str {
        &self.0[..4]
    }

    /// The ISO 3166 country code.
    pub fn country(&self) -> &str {
        &self.0[4..6]
    }

    /// The two-character location code.
    pub fn location(&self) -> &str {
        &self.0[6..8]
    }

    /// The three-character branch code, if the BIC has one.
    pub fn branch(&self) -> Option<&str> {
        self.0.get(8..11)
    }
}

impl FromStr for Bic {
    type Err = BankError;

    /// Accepts any case; spaces are removed ("DEUT DE FF 500").
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bic = normalize(text, 11, BankError::BicMalformed)?;
        let bytes = bic.as_bytes();
        let well_formed = matches!(bytes.len(), 8 | 11)
            && bytes[..6].iter().all(u8::is_ascii_uppercase)
            && matches!(bytes[6], b'A'..=b'Z' | b'2'..=b'9')
            && bytes[7] != b'O';
        if !well_formed {
            return Err(BankError::BicMalformed);
        }
        if !COUNTRY_CODES.contains(&&bic[4..6]) {
            return Err(BankError::UnknownBicCountry);
        }
        Ok(Bic(bic))
    }
}

impl TryFrom<String> for Bic {
    type Error = BankError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Bic> for String {
    fn from(bic: Bic) -> String {
        bic.0
    }
}

impl fmt::Display for Bic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::value::{Error as ValueError, StrDeserializer};

    fn check<T>(text: &str, expected: Result<&str, BankError>)
    where
        T: FromStr<Err = BankError> + fmt::Display,
    {
        let parsed = text.parse::<T>().map(|value| value.to_string());
        assert_eq!(parsed, expected.map(str::to_owned), "{text:?}");
    }

    /// Examples from the SWIFT IBAN registry, one or more per country, every country of
    /// the registry.
    const REGISTRY_EXAMPLES: &[&str] = &[
        "AD1200012030200359100100",
        "AE070331234567890123456",
        "AL47212110090000000235698741",
        "AT611904300234573201",
        "AZ21NABZ00000000137010001944",
        "BA391290079401028494",
        "BE68539007547034",
        "BG80BNBG96611020345678",
        "BH67BMAG00001299123456",
        "BI4210000100010000332045181",
        "BR1800000000141455123924100C2",
        "BY13NBRB3600900000002Z00AB00",
        "CH9300762011623852957",
        "CR05015202001026284066",
        "CY17002001280000001200527600",
        "CZ6508000000192000145399",
        "DE89370400440532013000",
        "DJ2100010000000154000100186",
        "DK5000400440116243",
        "DO28BAGR00000001212453611324",
        "EE382200221020145685",
        "EG380019000500000000263180002",
        "ES9121000418450200051332",
        "FI2112345600000785",
        "FK88SC123456789012",
        "FO6264600001631634",
        "FR1420041010050500013M02606",
        "GB29NWBK60161331926819",
        "GE29NB0000000101904917",
        "GI75NWBK000000007099453",
        "GL8964710001000206",
        "GR1601101250000000012300695",
        "GT82TRAJ01020000001210029690",
        "HN88CABF00000000000250005469",
        "HR1210010051863000160",
        "HU42117730161111101800000000",
        "IE29AIBK93115212345678",
        "IL620108000000099999999",
        "IQ98NBIQ850123456789012",
        "IS140159260076545510730339",
        "IT60X0542811101000000123456",
        "JO94CBJO0010000000000131000302",
        "KW81CBKU0000000000001234560101",
        "KZ86125KZT5004100100",
        "LB62099900000001001901229114",
        "LC55HEMM000100010012001200023015",
        "LI21088100002324013AA",
        "LT121000011101001000",
        "LU280019400644750000",
        "LV80BANK0000435195001",
        "LY83002048000020100120361",
        "MC5811222000010123456789030",
        "MD24AG000225100013104168",
        "ME25505000012345678951",
        "MK07250120000058984",
        "MN121234123456789123",
        "MR1300020001010000123456753",
        "MT84MALT011000012345MTLCAST001S",
        "MU17BOMM0101101030300200000MUR",
        "NI45BAPR00000013000003558124",
        "NL91ABNA0417164300",
        "NO9386011117947",
        "OM810180000001299123456",
        "PK36SCBL0000001123456702",
        "PL61109010140000071219812874",
        "PS92PALS000000000400123456702",
        "PT50000201231234567890154",
        "QA58DOHB00001234567890ABCDEFG",
        "RO49AAAA1B31007593840000",
        "RS35260005601001611379",
        "RU0204452560040702810412345678901",
        "SA0380000000608010167519",
        "SC18SSCB11010000000000001497USD",
        "SD2129010501234001",
        "SE4550000000058398257466",
        "SI56191000000123438",
        "SK3112000000198742637541",
        "SM86U0322509800000000270100",
        "SO211000001001000100141",
        "ST68000100010051845310112",
        "SV62CENR00000000000000700025",
        "TL380080012345678910157",
        "TN5910006035183598478831",
        "TR330006100519786457841326",
        "UA213223130000026007233566001",
        "VA59001123000012345678",
        "VG96VPVG0000012345678901",
        "XK051212012345678906",
        "YE15CBYE0001018861234567891234",
    ];

    #[test]
    fn accepts_the_registry_examples_of_every_country() {
        for example in REGISTRY_EXAMPLES {
            check::<Iban>(example, Ok(example));
        }
        let countries: Vec<&str> = REGISTRY_EXAMPLES.iter().map(|iban| &iban[..2]).collect();
        let listed: Vec<&str> = IBAN_LENGTHS.iter().map(|(country, _)| *country).collect();
        assert_eq!(countries, listed);
    }

    #[test]
    fn accepts_spaces_and_lower_case() {
        let expected = Ok("FR7630006000011234567890189");
        check::<Iban>("FR76 3000 6000 0112 3456 7890 189", expected);
        check::<Iban>("fr76 3000 6000 0112 3456 7890 189", expected);
        check::<Iban>(" FR7630006000011234567890189 ", expected);
        check::<Iban>(
            "MC58 1122 2000 0101 2345 6789 030",
            Ok("MC5811222000010123456789030"),
        );
        check::<Iban>(
            "mc5811222000010123456789030",
            Ok("MC5811222000010123456789030"),
        );
    }

    #[test]
    fn refuses_malformed_unknown_wrong_length_and_bad_checksums() {
        check::<Iban>("", Err(BankError::IbanMalformed));
        check::<Iban>("FR76", Err(BankError::IbanMalformed));
        check::<Iban>(
            "F176 3000 6000 0112 3456 7890 189",
            Err(BankError::IbanMalformed),
        );
        check::<Iban>(
            "FRX6 3000 6000 0112 3456 7890 189",
            Err(BankError::IbanMalformed),
        );
        check::<Iban>(
            "FR76-3000-6000-0112-3456-7890-189",
            Err(BankError::IbanMalformed),
        );
        check::<Iban>(
            "FR76\t3000 6000 0112 3456 7890 189",
            Err(BankError::IbanMalformed),
        );
        check::<Iban>(
            "FR76 3000 6000 0112 3456 7890 18É",
            Err(BankError::IbanMalformed),
        );
        check::<Iban>(
            &format!("FR76{}", "1".repeat(1000)),
            Err(BankError::IbanLength),
        );
        check::<Iban>("US64SVBKUS6S3300958879", Err(BankError::UnknownIbanCountry));
        check::<Iban>("XX431234", Err(BankError::UnknownIbanCountry));
        check::<Iban>("AD48 0001 2030 2003 5910 01", Err(BankError::IbanLength));
        check::<Iban>("AT93 1904 3002 3457 3201 99", Err(BankError::IbanLength));
        check::<Iban>("BE36 5390 0754 7034 1234", Err(BankError::IbanLength));
        check::<Iban>(
            "FR76 3000 6000 0112 3456 7890 18",
            Err(BankError::IbanLength),
        );
        check::<Iban>(
            "FR76 3000 6000 0112 3456 7890 188",
            Err(BankError::IbanChecksum),
        );
        check::<Iban>(
            "FR67 3000 6000 0112 3456 7890 189",
            Err(BankError::IbanChecksum),
        );
        check::<Iban>("AL48212110090000000235698741", Err(BankError::IbanChecksum));
        check::<Iban>("DK5000400440116342", Err(BankError::IbanChecksum));
        // 02, 97 and 98 are issued; 99, 00 and 01 leave the same remainder but are not.
        check::<Iban>("DE02370400440532013014", Ok("DE02370400440532013014"));
        check::<Iban>("DE99370400440532013014", Err(BankError::IbanChecksum));
        check::<Iban>("DE97370400440532013050", Ok("DE97370400440532013050"));
        check::<Iban>("DE00370400440532013050", Err(BankError::IbanChecksum));
        check::<Iban>("DE98370400440532013032", Ok("DE98370400440532013032"));
        check::<Iban>("DE01370400440532013032", Err(BankError::IbanChecksum));
    }

    /// Mod 97-10 finds every change of one character into another of its kind and every
    /// swap of two neighbouring digits.
    #[test]
    fn refuses_every_one_character_change() {
        for example in REGISTRY_EXAMPLES {
            let original: Vec<u8> = example.bytes().collect();
            for position in 0..original.len() {
                let alternatives: Vec<u8> = if original[position].is_ascii_digit() {
                    (b'0'..=b'9').collect()
                } else {
                    (b'A'..=b'Z').collect()
                };
                for replacement in alternatives {
                    if replacement == original[position] {
                        continue;
                    }
                    let mut changed = original.clone();
                    changed[position] = replacement;
                    let text = String::from_utf8_lossy(&changed);
                    assert!(text.parse::<Iban>().is_err(), "{text} should be refused");
                }
                let next = position + 1;
                if next < original.len()
                    && original[position] != original[next]
                    && original[position].is_ascii_digit()
                    && original[next].is_ascii_digit()
                {
                    let mut swapped = original.clone();
                    swapped.swap(position, next);
                    let text = String::from_utf8_lossy(&swapped);
                    assert!(text.parse::<Iban>().is_err(), "{text} should be refused");
                }
            }
        }
    }

    #[test]
    fn prints_in_groups_of_four_and_knows_its_country() {
        let cases = [
            (
                "FR7630006000011234567890189",
                "FR76 3000 6000 0112 3456 7890 189",
                "FR",
                true,
            ),
            ("NO9386011117947", "NO93 8601 1117 947", "NO", true),
            ("BE68539007547034", "BE68 5390 0754 7034", "BE", true),
            (
                "TR330006100519786457841326",
                "TR33 0006 1005 1978 6457 8413 26",
                "TR",
                false,
            ),
        ];
        for (electronic, printable, country, in_sepa) in cases {
            let iban: Iban = electronic
                .parse()
                .unwrap_or_else(|error| unreachable!("{error}"));
            assert_eq!(iban.printable(), printable);
            assert_eq!(iban.as_str(), electronic);
            assert_eq!(iban.country(), country);
            assert_eq!(iban.in_sepa(), in_sepa, "{electronic}");
            check::<Iban>(printable, Ok(electronic));
        }
    }

    #[test]
    fn sepa_countries_all_have_ibans() {
        for country in SEPA_COUNTRIES {
            assert!(
                IBAN_LENGTHS.iter().any(|(listed, _)| listed == country),
                "{country}"
            );
        }
    }

    #[test]
    fn accepts_bics_of_eight_and_eleven_characters() {
        check::<Bic>("DEUTDEFF", Ok("DEUTDEFF"));
        check::<Bic>("DEUTDEFF500", Ok("DEUTDEFF500"));
        check::<Bic>("NEDSNL2A", Ok("NEDSNL2A"));
        check::<Bic>("BNPAFRPPXXX", Ok("BNPAFRPPXXX"));
        check::<Bic>("BNPAFRPP", Ok("BNPAFRPP"));
        check::<Bic>("deutdeff500", Ok("DEUTDEFF500"));
        check::<Bic>("DEUT DE FF 500", Ok("DEUTDEFF500"));
        check::<Bic>("NEDSZAJJXXX", Ok("NEDSZAJJXXX"));
        check::<Bic>("CHASUS33", Ok("CHASUS33"));
        // A second location character 0 marks a test BIC; the schema allows it.
        check::<Bic>("DEUTDEF0", Ok("DEUTDEF0"));
    }

    #[test]
    fn refuses_malformed_bics() {
        let malformed = Err(BankError::BicMalformed);
        check::<Bic>("", malformed);
        check::<Bic>("DEUTDEF", malformed);
        check::<Bic>("DEUTDEFF5", malformed);
        check::<Bic>("DEUTDEFF50", malformed);
        check::<Bic>("DEUTDEFF5000", malformed);
        check::<Bic>("DEU1DEFF", malformed);
        check::<Bic>("DEUTD3FF", malformed);
        check::<Bic>("DEUTDE0F", malformed);
        check::<Bic>("DEUTDE1F", malformed);
        check::<Bic>("DEUTDEFO", malformed);
        check::<Bic>("DEUTDEFF50!", malformed);
        check::<Bic>("DEUTDEFF-500", malformed);
        check::<Bic>("DEUTDEFFÄ00", malformed);
        check::<Bic>("DEUTZZFF", Err(BankError::UnknownBicCountry));
        check::<Bic>("DEUTUKFF", Err(BankError::UnknownBicCountry));
    }

    #[test]
    fn bic_parts() {
        let bic: Bic = "DEUTDEFF500"
            .parse()
            .unwrap_or_else(|error| unreachable!("{error}"));
        assert_eq!(
            (
                bic.institution(),
                bic.country(),
                bic.location(),
                bic.branch()
            ),
            ("DEUT", "DE", "FF", Some("500"))
        );
        let bic: Bic = "NEDSNL2A"
            .parse()
            .unwrap_or_else(|error| unreachable!("{error}"));
        assert_eq!(bic.branch(), None);
    }

    #[test]
    fn errors_have_stable_codes() {
        let cases = [
            (BankError::IbanMalformed, "invalid_iban"),
            (BankError::UnknownIbanCountry, "unknown_iban_country"),
            (BankError::IbanLength, "iban_length"),
            (BankError::IbanChecksum, "iban_checksum"),
            (BankError::BicMalformed, "invalid_bic"),
            (BankError::UnknownBicCountry, "unknown_bic_country"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn deserializes_from_strings_through_the_parser() {
        let iban = Iban::deserialize(StrDeserializer::<ValueError>::new(
            "fr76 3000 6000 0112 3456 7890 189",
        ));
        assert_eq!(
            iban.map(String::from).ok().as_deref(),
            Some("FR7630006000011234567890189")
        );
        let refused = Iban::deserialize(StrDeserializer::<ValueError>::new(
            "FR76 3000 6000 0112 3456 7890 188",
        ));
        assert!(refused.is_err());
        let bic = Bic::deserialize(StrDeserializer::<ValueError>::new("deutdeff"));
        assert_eq!(bic.map(String::from).ok().as_deref(), Some("DEUTDEFF"));
    }

    /// Computes the check digits of `country` + `bban` the way a bank issues them.
    fn issue(country: &str, bban: &str) -> String {
        let remainder = iban_remainder(&format!("{country}00{bban}"));
        format!("{country}{:02}{bban}", 98 - remainder)
    }

    proptest! {
        #[test]
        fn every_issued_iban_parses_and_prints_back(
            index in 0..IBAN_LENGTHS.len(),
            characters in proptest::collection::vec(
                proptest::sample::select(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".to_vec()),
                30,
            ),
        ) {
            let (country, length) = IBAN_LENGTHS[index];
            let bban = String::from_utf8_lossy(&characters[..length - 4]).into_owned();
            let text = issue(country, &bban);
            let iban = text.parse::<Iban>().map(String::from);
            prop_assert_eq!(iban, Ok(text.clone()));
            let printed = text.parse::<Iban>().map(|iban| iban.printable());
            let reparsed = printed.and_then(|printed| printed.parse::<Iban>()).map(String::from);
            prop_assert_eq!(reparsed, Ok(text));
        }
    }
}
