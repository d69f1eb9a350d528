//! The clearing file: a settlement batch written as an ISO 20022 Customer Credit Transfer
//! Initiation (pain.001.001.03), one credit transfer per merchant, for the acquiring
//! banks. Pure: the document is a `String` built from the batch alone, byte-identical for
//! the same batch.
//!
//! Choices, each one enforced by [`write_pain_001`]:
//! - **Blocks.** Transfers are grouped into one payment information block (`PmtInf`) per
//!   currency and scheme, ordered by currency code, SEPA before non-SEPA; inside a block
//!   the batch's order is kept. A block is SEPA (`SvcLvl/Cd` SEPA, `ChrgBr` SLEV) when
//!   its currency is EUR and both the debtor's and the creditor's IBANs are in SEPA
//!   countries ([`Iban::in_sepa`]); other blocks carry neither element, so the banks'
//!   defaults apply. `PmtInfId` is the message id, a dash and the block number from 1:
//!   so message ids are limited to [`MESSAGE_ID_LEN_MAX`] = 31 characters, not 35.
//! - **Identifiers** (message id, end-to-end ids) are refused, never changed: empty, too
//!   long, a character outside the SEPA set, a leading or trailing `/` or space, or `//`.
//!   End-to-end ids are unique within the batch.
//! - **Free text** (names, remittance) is made safe: control characters dropped, runs of
//!   white space made one space, trimmed, then converted to the SEPA basic Latin set
//!   (`a-z A-Z 0-9 / - ? : ( ) . , ' +` and space) that every bank accepts: accented
//!   Latin letters lose their accents, `ß` becomes `ss`, `&` becomes `+`, quotes become
//!   `'`, anything else `.`. Names longer than 70 characters are cut to 70 (a long
//!   merchant name must not block a whole batch); remittance text longer than 140 is
//!   refused (sceau writes it, so an overflow is a bug to see). All text is XML-escaped
//!   as well.
//! - **Amounts** are positive and below 10^18 minor units (the schema's 18 digits).
//!   Control sums are added in `i128` minor units, never floats, and must also fit 18
//!   digits. The group header's `CtrlSum` is, as the standard defines it, the sum of all
//!   amounts irrespective of currency, written with the largest exponent among them.
//! - **Time.** `CreDtTm` is the creation instant in UTC, written without a zone suffix
//!   (`2026-11-24T20:15:00`); `ReqdExctnDt` is the UTC date of `execution_date_s`, which
//!   may not fall before the creation date. Both instants lie in years 1970 to 9999.

use crate::bank::{Bic, Iban};
use crate::card::civil_from_days;
use crate::money::{Currency, Money};
use std::collections::BTreeMap;
use std::fmt;

/// The pain.001.001.03 XML namespace.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03";
/// Longest message id: Max35Text less the `-NNN` that makes each `PmtInfId`.
pub const MESSAGE_ID_LEN_MAX: usize = 31;
/// Longest end-to-end id (Max35Text).
pub const END_TO_END_ID_LEN_MAX: usize = 35;
/// Longest party name (EPC limit on `Nm`); longer names are cut.
pub const PARTY_NAME_LEN_MAX: usize = 70;
/// Longest unstructured remittance text (Max140Text).
pub const REMITTANCE_LEN_MAX: usize = 140;
/// Most transfers in one settlement file.
pub const TRANSFERS_MAX: usize = 100_000;
/// Most payment information blocks: their numbers take at most three digits.
const PAYMENT_BLOCKS_MAX: usize = 999;
/// Amounts and control sums stay below 10^18 minor units (18 digits).
const AMOUNT_MINOR_LIMIT: i128 = 1_000_000_000_000_000_000;
/// 9999-12-31T23:59:59 UTC: the last instant with a four-digit year.
const INSTANT_S_MAX: i64 = 253_402_300_799;
const DAY_S: i64 = 86_400;

const _: () = assert!(MESSAGE_ID_LEN_MAX + "-999".len() <= 35);
const _: () = assert!(PAYMENT_BLOCKS_MAX == 999);

/// Who pays or is paid: a name, an account and the account's bank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub iban: Iban,
    pub bic: Bic,
}

/// One credit transfer: what one merchant receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Max35Text, unique within the batch; comes back on the merchant's statement.
    pub end_to_end_id: String,
    pub creditor: Party,
    pub amount: Money,
    /// Unstructured remittance information (Max140Text).
    pub remittance: String,
}

/// A closed clearing batch, ready to be written as a settlement file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementBatch {
    /// At most [`MESSAGE_ID_LEN_MAX`] characters; banks refuse a file whose id they saw.
    pub message_id: String,
    /// When the file is created, Unix seconds.
    pub created_at_s: i64,
    /// Any instant in the UTC day on which the banks should execute the transfers.
    pub execution_date_s: i64,
    /// The issuer, whose account pays the merchants.
    pub debtor: Party,
    pub transfers: Vec<Transfer>,
}

/// Which text of the batch an error is about; transfers are counted from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    MessageId,
    DebtorName,
    EndToEndId { transfer: usize },
    CreditorName { transfer: usize },
    Remittance { transfer: usize },
}

impl fmt::Display for Field {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::MessageId => formatter.write_str("message_id"),
            Field::DebtorName => formatter.write_str("debtor.name"),
            Field::EndToEndId { transfer } => {
                write!(formatter, "transfers[{transfer}].end_to_end_id")
            }
            Field::CreditorName { transfer } => {
                write!(formatter, "transfers[{transfer}].creditor.name")
            }
            Field::Remittance { transfer } => write!(formatter, "transfers[{transfer}].remittance"),
        }
    }
}

/// Why a settlement batch cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClearingError {
    #[error("a settlement batch needs at least one transfer")]
    NoTransfers,
    #[error("a settlement batch holds at most {} transfers", TRANSFERS_MAX)]
    TooManyTransfers,
    #[error(
        "a settlement file holds at most {} payment blocks",
        PAYMENT_BLOCKS_MAX
    )]
    TooManyPaymentBlocks,
    #[error("transfers[{transfer}]: amount must be greater than zero")]
    AmountNotPositive { transfer: usize },
    #[error("transfers[{transfer}]: amount has more than 18 digits")]
    AmountTooLarge { transfer: usize },
    #[error("control sum has more than 18 digits")]
    ControlSumTooLarge,
    #[error("{field} is longer than {length_max} characters")]
    TextTooLong { field: Field, length_max: usize },
    #[error("{field} is empty")]
    TextEmpty { field: Field },
    #[error(
        "{field}: identifiers use letters, digits, spaces and / - ? : ( ) . , ' + only, \
         neither start nor end with / or a space, and contain no //"
    )]
    IdentifierInvalid { field: Field },
    #[error("transfers[{transfer}]: end-to-end id already used by transfers[{first}]")]
    DuplicateEndToEndId { transfer: usize, first: usize },
    #[error("creation and execution dates must lie in the years 1970 to 9999")]
    InstantOutOfRange,
    #[error("requested execution date is before the creation date")]
    ExecutionBeforeCreation,
}

impl ClearingError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            ClearingError::NoTransfers => "no_transfers",
            ClearingError::TooManyTransfers => "too_many_transfers",
            ClearingError::TooManyPaymentBlocks => "too_many_payment_blocks",
            ClearingError::AmountNotPositive { .. } => "amount_not_positive",
            ClearingError::AmountTooLarge { .. } => "amount_too_large",
            ClearingError::ControlSumTooLarge => "control_sum_too_large",
            ClearingError::TextTooLong { .. } => "text_too_long",
            ClearingError::TextEmpty { .. } => "text_empty",
            ClearingError::IdentifierInvalid { .. } => "invalid_identifier",
            ClearingError::DuplicateEndToEndId { .. } => "duplicate_end_to_end_id",
            ClearingError::InstantOutOfRange => "invalid_timestamp",
            ClearingError::ExecutionBeforeCreation => "execution_before_creation",
        }
    }
}

/// The UTC date of a Unix instant as ISODate: `"2000-02-29"`. Proleptic Gregorian
/// calendar, defined for every `i64`.
pub fn utc_date(instant_s: i64) -> String {
    let (year, month, day) = civil_from_days(instant_s.div_euclid(DAY_S));
    format!("{year:04}-{month:02}-{day:02}")
}

/// The UTC date and time of a Unix instant as ISODateTime without zone suffix:
/// `"2026-11-24T20:15:00"`.
pub fn utc_date_time(instant_s: i64) -> String {
    let second_of_day = instant_s.rem_euclid(DAY_S);
    format!(
        "{}T{:02}:{:02}:{:02}",
        utc_date(instant_s),
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Writes `batch` as a pain.001.001.03 document: UTF-8, with the XML declaration,
/// indented by two spaces. See the module documentation for the rules it enforces.
pub fn write_pain_001(batch: &SettlementBatch) -> Result<String, ClearingError> {
    let document = Document::prepare(batch)?;
    Ok(document.write())
}

/// A transfer whose texts are checked and converted.
struct PreparedTransfer<'a> {
    end_to_end_id: &'a str,
    creditor_name: String,
    creditor: &'a Party,
    amount: Money,
    remittance: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Scheme {
    Sepa,
    Other,
}

struct Block<'a> {
    currency: Currency,
    scheme: Scheme,
    transfers: Vec<PreparedTransfer<'a>>,
    control_sum: Money,
}

/// Everything the document says, checked, before a byte is written.
struct Document<'a> {
    message_id: &'a str,
    created_at: String,
    execution_date: String,
    debtor_name: String,
    debtor: &'a Party,
    transfer_count: usize,
    control_sum: Money,
    blocks: Vec<Block<'a>>,
}

impl<'a> Document<'a> {
    fn prepare(batch: &'a SettlementBatch) -> Result<Document<'a>, ClearingError> {
        if batch.transfers.is_empty() {
            return Err(ClearingError::NoTransfers);
        }
        if batch.transfers.len() > TRANSFERS_MAX {
            return Err(ClearingError::TooManyTransfers);
        }
        let in_range = |instant_s: i64| (0..=INSTANT_S_MAX).contains(&instant_s);
        if !in_range(batch.created_at_s) || !in_range(batch.execution_date_s) {
            return Err(ClearingError::InstantOutOfRange);
        }
        if batch.execution_date_s / DAY_S < batch.created_at_s / DAY_S {
            return Err(ClearingError::ExecutionBeforeCreation);
        }
        identifier(&batch.message_id, MESSAGE_ID_LEN_MAX, Field::MessageId)?;
        let debtor_name = party_name(&batch.debtor.name, Field::DebtorName)?;

        let mut first_use: BTreeMap<&str, usize> = BTreeMap::new();
        let mut grouped: BTreeMap<(Currency, Scheme), Vec<PreparedTransfer<'a>>> = BTreeMap::new();
        for (index, transfer) in batch.transfers.iter().enumerate() {
            let prepared = prepare_transfer(index, transfer)?;
            if let Some(first) = first_use.insert(prepared.end_to_end_id, index) {
                return Err(ClearingError::DuplicateEndToEndId {
                    transfer: index,
                    first,
                });
            }
            let currency = transfer.amount.currency;
            let sepa = currency.code() == "EUR"
                && batch.debtor.iban.in_sepa()
                && transfer.creditor.iban.in_sepa();
            let scheme = if sepa { Scheme::Sepa } else { Scheme::Other };
            grouped
                .entry((currency, scheme))
                .or_default()
                .push(prepared);
        }
        if grouped.len() > PAYMENT_BLOCKS_MAX {
            return Err(ClearingError::TooManyPaymentBlocks);
        }

        let mut blocks = Vec::with_capacity(grouped.len());
        for ((currency, scheme), transfers) in grouped {
            let minor =
                control_sum_minor(transfers.iter().map(|transfer| (transfer.amount.minor, 0)))?;
            blocks.push(Block {
                currency,
                scheme,
                transfers,
                control_sum: Money::new(minor, currency),
            });
        }
        Ok(Document {
            message_id: &batch.message_id,
            created_at: utc_date_time(batch.created_at_s),
            execution_date: utc_date(batch.execution_date_s),
            debtor_name,
            debtor: &batch.debtor,
            transfer_count: batch.transfers.len(),
            control_sum: group_control_sum(&blocks)?,
            blocks,
        })
    }

    fn write(&self) -> String {
        let mut xml = XmlWriter::new();
        xml.open_with_attribute("Document", "xmlns", NAMESPACE);
        xml.open("CstmrCdtTrfInitn");
        xml.open("GrpHdr");
        xml.leaf("MsgId", self.message_id);
        xml.leaf("CreDtTm", &self.created_at);
        xml.leaf("NbOfTxs", &self.transfer_count.to_string());
        xml.leaf("CtrlSum", &self.control_sum.to_decimal());
        xml.open("InitgPty");
        xml.leaf("Nm", &self.debtor_name);
        xml.close("InitgPty");
        xml.close("GrpHdr");
        for (index, block) in self.blocks.iter().enumerate() {
            self.write_block(&mut xml, index + 1, block);
        }
        xml.close("CstmrCdtTrfInitn");
        xml.close("Document");
        xml.finish()
    }

    fn write_block(&self, xml: &mut XmlWriter, number: usize, block: &Block<'_>) {
        xml.open("PmtInf");
        xml.leaf("PmtInfId", &format!("{}-{number}", self.message_id));
        xml.leaf("PmtMtd", "TRF");
        xml.leaf("BtchBookg", "true");
        xml.leaf("NbOfTxs", &block.transfers.len().to_string());
        xml.leaf("CtrlSum", &block.control_sum.to_decimal());
        if block.scheme == Scheme::Sepa {
            xml.open("PmtTpInf");
            xml.open("SvcLvl");
            xml.leaf("Cd", "SEPA");
            xml.close("SvcLvl");
            xml.close("PmtTpInf");
        }
        xml.leaf("ReqdExctnDt", &self.execution_date);
        xml.open("Dbtr");
        xml.leaf("Nm", &self.debtor_name);
        xml.close("Dbtr");
        write_account(xml, "DbtrAcct", &self.debtor.iban);
        write_agent(xml, "DbtrAgt", &self.debtor.bic);
        if block.scheme == Scheme::Sepa {
            xml.leaf("ChrgBr", "SLEV");
        }
        for transfer in &block.transfers {
            write_transfer(xml, block.currency, transfer);
        }
        xml.close("PmtInf");
    }
}

fn write_transfer(xml: &mut XmlWriter, currency: Currency, transfer: &PreparedTransfer<'_>) {
    xml.open("CdtTrfTxInf");
    xml.open("PmtId");
    xml.leaf("EndToEndId", transfer.end_to_end_id);
    xml.close("PmtId");
    xml.open("Amt");
    xml.leaf_with_attribute(
        "InstdAmt",
        "Ccy",
        currency.code(),
        &transfer.amount.to_decimal(),
    );
    xml.close("Amt");
    write_agent(xml, "CdtrAgt", &transfer.creditor.bic);
    xml.open("Cdtr");
    xml.leaf("Nm", &transfer.creditor_name);
    xml.close("Cdtr");
    write_account(xml, "CdtrAcct", &transfer.creditor.iban);
    xml.open("RmtInf");
    xml.leaf("Ustrd", &transfer.remittance);
    xml.close("RmtInf");
    xml.close("CdtTrfTxInf");
}

fn write_account(xml: &mut XmlWriter, element: &str, iban: &Iban) {
    xml.open(element);
    xml.open("Id");
    xml.leaf("IBAN", iban.as_str());
    xml.close("Id");
    xml.close(element);
}

fn write_agent(xml: &mut XmlWriter, element: &str, bic: &Bic) {
    xml.open(element);
    xml.open("FinInstnId");
    xml.leaf("BIC", bic.as_str());
    xml.close("FinInstnId");
    xml.close(element);
}

fn prepare_transfer(
    index: usize,
    transfer: &Transfer,
) -> Result<PreparedTransfer<'_>, ClearingError> {
    identifier(
        &transfer.end_to_end_id,
        END_TO_END_ID_LEN_MAX,
        Field::EndToEndId { transfer: index },
    )?;
    if transfer.amount.minor <= 0 {
        return Err(ClearingError::AmountNotPositive { transfer: index });
    }
    if i128::from(transfer.amount.minor) >= AMOUNT_MINOR_LIMIT {
        return Err(ClearingError::AmountTooLarge { transfer: index });
    }
    let creditor_name = party_name(
        &transfer.creditor.name,
        Field::CreditorName { transfer: index },
    )?;
    let remittance = sepa_text(&transfer.remittance);
    let field = Field::Remittance { transfer: index };
    if remittance.is_empty() {
        return Err(ClearingError::TextEmpty { field });
    }
    if remittance.chars().count() > REMITTANCE_LEN_MAX {
        return Err(ClearingError::TextTooLong {
            field,
            length_max: REMITTANCE_LEN_MAX,
        });
    }
    Ok(PreparedTransfer {
        end_to_end_id: &transfer.end_to_end_id,
        creditor_name,
        creditor: &transfer.creditor,
        amount: transfer.amount,
        remittance,
    })
}

/// Adds amounts given as (minor units, extra decimal places to scale by) exactly, and
/// checks that the sum fits 18 digits.
fn control_sum_minor(amounts: impl Iterator<Item = (i64, u32)>) -> Result<i64, ClearingError> {
    let mut sum: i128 = 0;
    for (minor, scale) in amounts {
        let scaled = i128::from(minor)
            .checked_mul(10_i128.pow(scale))
            .ok_or(ClearingError::ControlSumTooLarge)?;
        sum = sum
            .checked_add(scaled)
            .ok_or(ClearingError::ControlSumTooLarge)?;
        if sum >= AMOUNT_MINOR_LIMIT {
            return Err(ClearingError::ControlSumTooLarge);
        }
    }
    i64::try_from(sum).map_err(|_| ClearingError::ControlSumTooLarge)
}

/// The sum of every block irrespective of currency, in the decimals of the currency
/// with the most of them (only its exponent is used, to format the number).
fn group_control_sum(blocks: &[Block<'_>]) -> Result<Money, ClearingError> {
    let widest = blocks
        .iter()
        .map(|block| block.currency)
        .max_by_key(Currency::exponent)
        .ok_or(ClearingError::NoTransfers)?;
    let minor = control_sum_minor(blocks.iter().map(|block| {
        let scale = u32::from(widest.exponent() - block.currency.exponent());
        (block.control_sum.minor, scale)
    }))?;
    Ok(Money::new(minor, widest))
}

/// Checks an identifier; identifiers are refused rather than changed, because the banks
/// send them back and they must match.
fn identifier(text: &str, length_max: usize, field: Field) -> Result<(), ClearingError> {
    if text.is_empty() {
        return Err(ClearingError::TextEmpty { field });
    }
    if text.chars().count() > length_max {
        return Err(ClearingError::TextTooLong { field, length_max });
    }
    let valid = text.chars().all(in_sepa_set)
        && !text.starts_with(['/', ' '])
        && !text.ends_with(['/', ' '])
        && !text.contains("//");
    if valid {
        Ok(())
    } else {
        Err(ClearingError::IdentifierInvalid { field })
    }
}

/// A party name made safe and cut to [`PARTY_NAME_LEN_MAX`] characters.
fn party_name(text: &str, field: Field) -> Result<String, ClearingError> {
    let name: String = sepa_text(text).chars().take(PARTY_NAME_LEN_MAX).collect();
    let name = name.trim_end();
    if name.is_empty() {
        return Err(ClearingError::TextEmpty { field });
    }
    Ok(name.to_owned())
}

/// The SEPA basic Latin character set (EPC guidelines), which every bank accepts.
fn in_sepa_set(character: char) -> bool {
    character.is_ascii_alphanumeric() || "/-?:().,'+ ".contains(character)
}

/// Latin letters with diacritics (Latin-1 Supplement, Latin Extended-A, Romanian
/// comma-below letters) and, at the same position in [`UNACCENTED`], their base letter.
const ACCENTED: &str = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝàáâãäåçèéêëìíîïðñòóô\
                        õöøùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦ\
                        ħĨĩĪīĬĭĮįİıĴĵĶķĸĹĺĻļĽľĿŀŁłŃńŅņŇňŊŋŌōŎŏŐőŔŕŖŗŘřŚś\
                        ŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſȘșȚț";
const UNACCENTED: &str = "AAAAAACEEEEIIIIDNOOOOOOUUUUYaaaaaaceeeeiiiidnooo\
                          ooouuuuyyAaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhH\
                          hIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnNnOoOoOoRrRrRrSs\
                          SsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzsSsTt";
/// Letters written with two Latin letters.
const LIGATURES: &[(char, &str)] = &[
    ('Æ', "AE"),
    ('æ', "ae"),
    ('Œ', "OE"),
    ('œ', "oe"),
    ('ß', "ss"),
    ('Þ', "TH"),
    ('þ', "th"),
    ('Ĳ', "IJ"),
    ('ĳ', "ij"),
    ('ŉ', "'n"),
];

/// Characters dropped without a trace: combining accents (so a decomposed "é" becomes
/// "e"), zero-width characters, soft hyphens, byte-order marks.
fn invisible(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{0300}'..='\u{036F}' | '\u{200B}'..='\u{200F}' | '\u{00AD}' | '\u{2060}' | '\u{FEFF}')
}

/// Appends `character` to `converted`, as itself if it is in the SEPA set, else as the
/// nearest text in it.
fn push_sepa(character: char, converted: &mut String) {
    if in_sepa_set(character) {
        converted.push(character);
        return;
    }
    let base = ACCENTED
        .chars()
        .position(|accented| accented == character)
        .and_then(|position| UNACCENTED.chars().nth(position));
    if let Some(base) = base {
        converted.push(base);
        return;
    }
    if let Some((_, letters)) = LIGATURES
        .iter()
        .find(|(ligature, _)| *ligature == character)
    {
        converted.push_str(letters);
        return;
    }
    converted.push(match character {
        '&' => '+',
        '"' | '`' | '´' | '‘' | '’' | '‚' | '“' | '”' | '„' | '«' | '»' => '\'',
        '_' | '‐' | '‑' | '–' | '—' | '−' => '-',
        '[' | '{' => '(',
        ']' | '}' => ')',
        '\\' => '/',
        ';' => ',',
        _ => '.',
    });
}

/// Free text as banks accept it: invisible characters dropped, every run of white space
/// (tabs and line breaks included) made one space, trimmed, converted to the SEPA set.
fn sepa_text(text: &str) -> String {
    let mut converted = String::with_capacity(text.len());
    let mut space_pending = false;
    for character in text.chars() {
        if character.is_whitespace() {
            space_pending = true;
        } else if !invisible(character) {
            if space_pending && !converted.is_empty() {
                converted.push(' ');
            }
            space_pending = false;
            push_sepa(character, &mut converted);
        }
    }
    converted
}

/// Escapes the five characters XML gives meaning to.
fn escape(text: &str, escaped: &mut String) {
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            _ => escaped.push(character),
        }
    }
}

/// Writes elements one per line, indented by two spaces per level.
struct XmlWriter {
    xml: String,
    depth: usize,
}

impl XmlWriter {
    fn new() -> XmlWriter {
        XmlWriter {
            xml: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            depth: 0,
        }
    }

    fn start_line(&mut self) {
        for _ in 0..self.depth {
            self.xml.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &str, attribute: Option<(&str, &str)>) {
        self.start_line();
        self.xml.push('<');
        self.xml.push_str(name);
        if let Some((attribute, value)) = attribute {
            self.xml.push(' ');
            self.xml.push_str(attribute);
            self.xml.push_str("=\"");
            escape(value, &mut self.xml);
            self.xml.push('"');
        }
        self.xml.push('>');
    }

    fn open(&mut self, name: &str) {
        self.start_tag(name, None);
        self.xml.push('\n');
        self.depth += 1;
    }

    fn open_with_attribute(&mut self, name: &str, attribute: &str, value: &str) {
        self.start_tag(name, Some((attribute, value)));
        self.xml.push('\n');
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.start_line();
        self.xml.push_str("</");
        self.xml.push_str(name);
        self.xml.push_str(">\n");
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.start_tag(name, None);
        self.end_leaf(name, text);
    }

    fn leaf_with_attribute(&mut self, name: &str, attribute: &str, value: &str, text: &str) {
        self.start_tag(name, Some((attribute, value)));
        self.end_leaf(name, text);
    }

    fn end_leaf(&mut self, name: &str, text: &str) {
        escape(text, &mut self.xml);
        self.xml.push_str("</");
        self.xml.push_str(name);
        self.xml.push_str(">\n");
    }

    fn finish(self) -> String {
        debug_assert_eq!(self.depth, 0, "every element opened is closed");
        self.xml
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny XML reader for the documents above: elements, one attribute per tag at
    /// most, text, the five predefined entities. It checks that tags nest and close.
    #[derive(Debug, Default)]
    struct Element {
        name: String,
        attributes: Vec<(String, String)>,
        children: Vec<Element>,
        text: String,
    }

    fn unescape(text: &str) -> String {
        let mut plain = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('&') {
            plain.push_str(&rest[..start]);
            let (entity, after) = rest[start..]
                .split_once(';')
                .unwrap_or_else(|| unreachable!("unterminated entity in {text:?}"));
            plain.push(match entity {
                "&amp" => '&',
                "&lt" => '<',
                "&gt" => '>',
                "&quot" => '"',
                "&apos" => '\'',
                _ => unreachable!("unknown entity {entity}"),
            });
            rest = after;
        }
        plain.push_str(rest);
        plain
    }

    fn parse(xml: &str) -> Element {
        let mut rest = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .unwrap_or_else(|| unreachable!("no XML declaration"));
        let mut stack = vec![Element::default()];
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("</") {
                let (name, tail) = after.split_once('>').unwrap_or_else(|| unreachable!());
                let element = stack.pop().unwrap_or_else(|| unreachable!());
                assert_eq!(element.name, name, "closing tag");
                let is_container = !element.children.is_empty();
                assert!(
                    !is_container || element.text.trim().is_empty(),
                    "mixed content in {name}"
                );
                stack
                    .last_mut()
                    .unwrap_or_else(|| unreachable!())
                    .children
                    .push(element);
                rest = tail;
            } else if let Some(after) = rest.strip_prefix('<') {
                let (tag, tail) = after.split_once('>').unwrap_or_else(|| unreachable!());
                let (name, attribute) = match tag.split_once(' ') {
                    Some((name, attribute)) => (name.to_owned(), Some(attribute)),
                    None => (tag.to_owned(), None),
                };
                let attributes = attribute
                    .map(|attribute| {
                        let (key, value) =
                            attribute.split_once('=').unwrap_or_else(|| unreachable!());
                        let value = value.trim_matches('"');
                        vec![(key.to_owned(), unescape(value))]
                    })
                    .unwrap_or_default();
                stack.push(Element {
                    name,
                    attributes,
                    ..Element::default()
                });
                rest = tail;
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                assert!(!rest[..end].contains('>'), "raw > in text");
                let text = unescape(&rest[..end]);
                stack
                    .last_mut()
                    .unwrap_or_else(|| unreachable!())
                    .text
                    .push_str(&text);
                rest = &rest[end..];
            }
        }
        let mut root = stack.pop().unwrap_or_else(|| unreachable!());
        assert!(stack.is_empty(), "unclosed elements");
        assert_eq!(root.children.len(), 1, "one document element");
        root.children.remove(0)
    }

    impl Element {
        /// The texts (or, after `@`, attribute values) at `path` below
        /// `Document/CstmrCdtTrfInitn`, in document order.
        fn values(&self, path: &str) -> Vec<String> {
            let (path, attribute) = match path.split_once('@') {
                Some((path, attribute)) => (path, Some(attribute)),
                None => (path, None),
            };
            let mut found = Vec::new();
            let steps: Vec<&str> = path.split('/').collect();
            for initiation in self
                .children
                .iter()
                .filter(|child| child.name == "CstmrCdtTrfInitn")
            {
                initiation.collect(&steps, attribute, &mut found);
            }
            found
        }

        fn collect(&self, steps: &[&str], attribute: Option<&str>, found: &mut Vec<String>) {
            let Some((first, rest)) = steps.split_first() else {
                match attribute {
                    Some(attribute) => found.extend(
                        self.attributes
                            .iter()
                            .filter(|(key, _)| key == attribute)
                            .map(|(_, value)| value.clone()),
                    ),
                    None => found.push(self.text.clone()),
                }
                return;
            };
            for child in self.children.iter().filter(|child| child.name == *first) {
                child.collect(rest, attribute, found);
            }
        }

        /// The names of the children of the first element at `path`.
        fn child_names(&self, path: &str) -> Vec<String> {
            let mut element = self;
            for step in path.split('/') {
                element = element
                    .children
                    .iter()
                    .find(|child| child.name == step)
                    .unwrap_or_else(|| unreachable!("no {step} in {path}"));
            }
            element
                .children
                .iter()
                .map(|child| child.name.clone())
                .collect()
        }
    }

    type Expected<'a> = Result<&'a [(&'a str, &'a [&'a str])], ClearingError>;

    fn check(batch: &SettlementBatch, expected: Expected<'_>) {
        match (write_pain_001(batch), expected) {
            (Ok(xml), Ok(paths)) => {
                let document = parse(&xml);
                for (path, values) in paths {
                    assert_eq!(document.values(path), *values, "{path}");
                }
            }
            (written, expected) => assert_eq!(written.err(), expected.err()),
        }
    }

    fn iban(text: &str) -> Iban {
        text.parse()
            .unwrap_or_else(|error| unreachable!("{text}: {error}"))
    }

    fn bic(text: &str) -> Bic {
        text.parse()
            .unwrap_or_else(|error| unreachable!("{text}: {error}"))
    }

    fn money(minor: i64, code: &str) -> Money {
        let currency = code
            .parse()
            .unwrap_or_else(|error| unreachable!("{code}: {error}"));
        Money::new(minor, currency)
    }

    /// 2026-11-24T20:15:00 UTC.
    const CREATED_AT_S: i64 = 1_795_551_300;

    fn transfer(end_to_end_id: &str, minor: i64, code: &str) -> Transfer {
        Transfer {
            end_to_end_id: end_to_end_id.to_owned(),
            creditor: Party {
                name: "Boulangerie Martin".to_owned(),
                iban: iban("FR76 3000 6000 0112 3456 7890 189"),
                bic: bic("BNPAFRPPXXX"),
            },
            amount: money(minor, code),
            remittance: format!("Settlement {end_to_end_id}"),
        }
    }

    fn batch(transfers: Vec<Transfer>) -> SettlementBatch {
        SettlementBatch {
            message_id: "SCEAU-20261124-0001".to_owned(),
            created_at_s: CREATED_AT_S,
            execution_date_s: CREATED_AT_S + DAY_S,
            debtor: Party {
                name: "Sceau Issuer SA".to_owned(),
                iban: iban("DE89370400440532013000"),
                bic: bic("DEUTDEFF"),
            },
            transfers,
        }
    }

    fn with_creditor(
        mut transfer: Transfer,
        name: &str,
        iban_text: &str,
        bic_text: &str,
    ) -> Transfer {
        transfer.creditor = Party {
            name: name.to_owned(),
            iban: iban(iban_text),
            bic: bic(bic_text),
        };
        transfer
    }

    #[test]
    fn writes_every_required_element() {
        let second = with_creditor(
            transfer("E2E-2", 99, "EUR"),
            "Café Müller",
            "DE02370400440532013014",
            "COBADEFFXXX",
        );
        let batch = batch(vec![transfer("E2E-1", 125_050, "EUR"), second]);
        check(
            &batch,
            Ok(&[
                ("GrpHdr/MsgId", &["SCEAU-20261124-0001"]),
                ("GrpHdr/CreDtTm", &["2026-11-24T20:15:00"]),
                ("GrpHdr/NbOfTxs", &["2"]),
                ("GrpHdr/CtrlSum", &["1251.49"]),
                ("GrpHdr/InitgPty/Nm", &["Sceau Issuer SA"]),
                ("PmtInf/PmtInfId", &["SCEAU-20261124-0001-1"]),
                ("PmtInf/PmtMtd", &["TRF"]),
                ("PmtInf/BtchBookg", &["true"]),
                ("PmtInf/NbOfTxs", &["2"]),
                ("PmtInf/CtrlSum", &["1251.49"]),
                ("PmtInf/PmtTpInf/SvcLvl/Cd", &["SEPA"]),
                ("PmtInf/ReqdExctnDt", &["2026-11-25"]),
                ("PmtInf/Dbtr/Nm", &["Sceau Issuer SA"]),
                ("PmtInf/DbtrAcct/Id/IBAN", &["DE89370400440532013000"]),
                ("PmtInf/DbtrAgt/FinInstnId/BIC", &["DEUTDEFF"]),
                ("PmtInf/ChrgBr", &["SLEV"]),
                ("PmtInf/CdtTrfTxInf/PmtId/EndToEndId", &["E2E-1", "E2E-2"]),
                ("PmtInf/CdtTrfTxInf/Amt/InstdAmt", &["1250.50", "0.99"]),
                ("PmtInf/CdtTrfTxInf/Amt/InstdAmt@Ccy", &["EUR", "EUR"]),
                (
                    "PmtInf/CdtTrfTxInf/CdtrAgt/FinInstnId/BIC",
                    &["BNPAFRPPXXX", "COBADEFFXXX"],
                ),
                (
                    "PmtInf/CdtTrfTxInf/Cdtr/Nm",
                    &["Boulangerie Martin", "Cafe Muller"],
                ),
                (
                    "PmtInf/CdtTrfTxInf/CdtrAcct/Id/IBAN",
                    &["FR7630006000011234567890189", "DE02370400440532013014"],
                ),
                (
                    "PmtInf/CdtTrfTxInf/RmtInf/Ustrd",
                    &["Settlement E2E-1", "Settlement E2E-2"],
                ),
            ]),
        );
    }

    #[test]
    fn elements_come_in_the_schema_order() {
        let xml = write_pain_001(&batch(vec![transfer("E2E-1", 100, "EUR")]));
        let document = parse(&xml.unwrap_or_else(|error| unreachable!("{error}")));
        assert_eq!(document.name, "Document");
        assert_eq!(
            document.attributes,
            [("xmlns".to_owned(), NAMESPACE.to_owned())]
        );
        let cases: [(&str, &[&str]); 4] = [
            ("CstmrCdtTrfInitn", &["GrpHdr", "PmtInf"]),
            (
                "CstmrCdtTrfInitn/GrpHdr",
                &["MsgId", "CreDtTm", "NbOfTxs", "CtrlSum", "InitgPty"],
            ),
            (
                "CstmrCdtTrfInitn/PmtInf",
                &[
                    "PmtInfId",
                    "PmtMtd",
                    "BtchBookg",
                    "NbOfTxs",
                    "CtrlSum",
                    "PmtTpInf",
                    "ReqdExctnDt",
                    "Dbtr",
                    "DbtrAcct",
                    "DbtrAgt",
                    "ChrgBr",
                    "CdtTrfTxInf",
                ],
            ),
            (
                "CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf",
                &["PmtId", "Amt", "CdtrAgt", "Cdtr", "CdtrAcct", "RmtInf"],
            ),
        ];
        for (path, names) in cases {
            assert_eq!(document.child_names(path), names, "{path}");
        }
    }

    #[test]
    fn starts_with_the_declaration_and_the_namespace() {
        let xml = write_pain_001(&batch(vec![transfer("E2E-1", 100, "EUR")])).unwrap_or_default();
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\">\n  <CstmrCdtTrfInitn>\n"
        ));
        assert!(xml.ends_with("  </CstmrCdtTrfInitn>\n</Document>\n"));
    }

    #[test]
    fn adds_control_sums_past_two_to_the_fifty_third_exactly() {
        // 2^53 + 1 minor units: the first integer a 64-bit float cannot hold.
        let mut transfers: Vec<Transfer> = (0..9)
            .map(|index| transfer(&format!("E2E-{index}"), 1_000_000_000_000_000, "EUR"))
            .collect();
        transfers.push(transfer("E2E-9", 7_199_254_740_993, "EUR"));
        assert_eq!(9_007_199_254_740_993_i64, (1_i64 << 53) + 1);
        let sum = &["90071992547409.93"][..];
        check(
            &batch(transfers),
            Ok(&[
                ("GrpHdr/NbOfTxs", &["10"]),
                ("GrpHdr/CtrlSum", sum),
                ("PmtInf/CtrlSum", sum),
            ]),
        );
    }

    #[test]
    fn groups_transfers_by_currency_and_scheme() {
        let turkish = with_creditor(
            transfer("E2E-TR", 700, "EUR"),
            "Istanbul Kahve",
            "TR330006100519786457841326",
            "AKBKTRIS",
        );
        let transfers = vec![
            transfer("E2E-1", 1_250, "EUR"),
            transfer("E2E-2", 1_500, "JPY"),
            turkish,
            transfer("E2E-3", 5, "GBP"),
            transfer("E2E-4", 1_234, "KWD"),
            transfer("E2E-5", 250, "EUR"),
            transfer("E2E-6", 12_345, "CLF"),
        ];
        check(
            &batch(transfers),
            Ok(&[
                ("GrpHdr/NbOfTxs", &["7"]),
                // 1.2345 + 15.00 + 7.00 + 0.05 + 1500 + 1.234, in CLF's four decimals.
                ("GrpHdr/CtrlSum", &["1524.5185"]),
                (
                    "PmtInf/PmtInfId",
                    &[
                        "SCEAU-20261124-0001-1",
                        "SCEAU-20261124-0001-2",
                        "SCEAU-20261124-0001-3",
                        "SCEAU-20261124-0001-4",
                        "SCEAU-20261124-0001-5",
                        "SCEAU-20261124-0001-6",
                    ],
                ),
                (
                    "PmtInf/CdtTrfTxInf/Amt/InstdAmt@Ccy",
                    &["CLF", "EUR", "EUR", "EUR", "GBP", "JPY", "KWD"],
                ),
                ("PmtInf/NbOfTxs", &["1", "2", "1", "1", "1", "1"]),
                (
                    "PmtInf/CtrlSum",
                    &["1.2345", "15.00", "7.00", "0.05", "1500", "1.234"],
                ),
                (
                    "PmtInf/CdtTrfTxInf/Amt/InstdAmt",
                    &["1.2345", "12.50", "2.50", "7.00", "0.05", "1500", "1.234"],
                ),
                ("PmtInf/PmtTpInf/SvcLvl/Cd", &["SEPA"]),
                ("PmtInf/ChrgBr", &["SLEV"]),
                (
                    "PmtInf/CdtTrfTxInf/PmtId/EndToEndId",
                    &[
                        "E2E-6", "E2E-1", "E2E-5", "E2E-TR", "E2E-3", "E2E-2", "E2E-4",
                    ],
                ),
            ]),
        );
    }

    #[test]
    fn a_debtor_outside_sepa_sends_no_sepa_block() {
        let mut batch = batch(vec![transfer("E2E-1", 100, "EUR")]);
        batch.debtor.iban = iban("AE070331234567890123456");
        check(
            &batch,
            Ok(&[
                ("PmtInf/PmtTpInf/SvcLvl/Cd", &[]),
                ("PmtInf/ChrgBr", &[]),
                ("PmtInf/CtrlSum", &["1.00"]),
            ]),
        );
    }

    #[test]
    fn escapes_and_converts_text() {
        let mut batch = batch(vec![with_creditor(
            transfer("E2E-1", 100, "EUR"),
            "Smith & Sons <\"Ltd\"> l'atelier\t\n\u{0}\u{7}\u{1b}Straße Ørsted Œuvre Ștefan e\u{301} 李",
            "FR7630006000011234567890189",
            "BNPAFRPPXXX",
        )]);
        batch.transfers[0].remittance = "  Facture n° 12 — «été»\r\n2026 ".to_owned();
        batch.debtor.name = "Émetteur d'Île-de-France".to_owned();
        check(
            &batch,
            Ok(&[
                (
                    "PmtInf/CdtTrfTxInf/Cdtr/Nm",
                    &["Smith + Sons .'Ltd'. l'atelier Strasse Orsted OEuvre Stefan e ."],
                ),
                (
                    "PmtInf/CdtTrfTxInf/RmtInf/Ustrd",
                    &["Facture n. 12 - 'ete' 2026"],
                ),
                ("GrpHdr/InitgPty/Nm", &["Emetteur d'Ile-de-France"]),
                ("PmtInf/Dbtr/Nm", &["Emetteur d'Ile-de-France"]),
            ]),
        );
        let xml = write_pain_001(&batch).unwrap_or_default();
        assert!(xml.contains("<Nm>Emetteur d&apos;Ile-de-France</Nm>"));
        assert!(xml.is_ascii());
        assert!(!xml.contains('\u{0}') && !xml.contains('\t') && !xml.contains('\r'));
    }

    #[test]
    fn escapes_the_five_xml_characters() {
        let mut escaped = String::new();
        escape("a&b<c>d\"e'f", &mut escaped);
        assert_eq!(escaped, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
        assert_eq!(unescape(&escaped), "a&b<c>d\"e'f");
    }

    #[test]
    fn conversion_tables_line_up() {
        assert_eq!(ACCENTED.chars().count(), UNACCENTED.chars().count());
        assert!(
            UNACCENTED
                .chars()
                .all(|letter| letter.is_ascii_alphabetic())
        );
        assert!(!ACCENTED.contains(' ') && !UNACCENTED.contains(' '));
        let cases = [
            ("ÀÉÎÕÜÇÑ àéîõüçñ", "AEIOUCN aeioucn".to_owned()),
            ("Łódź Kraków", "Lodz Krakow".to_owned()),
            ("Dvořák Šťastný", "Dvorak Stastny".to_owned()),
            ("Ærøskøbing Þórður", "AEroskobing THordur".to_owned()),
            ("Țară șa", "Tara sa".to_owned()),
            ("a_b [c] {d} e;f g\\h", "a-b (c) (d) e,f g/h".to_owned()),
            ("100 % @home #1 *", "100 . .home .1 .".to_owned()),
            (
                "zero\u{200B}width soft\u{AD}hyphen",
                "zerowidth softhyphen".to_owned(),
            ),
            ("   ", String::new()),
        ];
        for (text, expected) in cases {
            assert_eq!(sepa_text(text), expected, "{text:?}");
        }
    }

    #[test]
    fn cuts_long_names_and_refuses_long_identifiers_and_remittance() {
        let long_name = format!("{} Trailing", "N".repeat(65));
        let mut long = batch(vec![with_creditor(
            transfer("E2E-1", 100, "EUR"),
            &long_name,
            "FR7630006000011234567890189",
            "BNPAFRPPXXX",
        )]);
        long.transfers[0].remittance = "R".repeat(REMITTANCE_LEN_MAX);
        let cut = format!("{} Trai", "N".repeat(65));
        let remittance = "R".repeat(REMITTANCE_LEN_MAX);
        check(
            &long,
            Ok(&[
                ("PmtInf/CdtTrfTxInf/Cdtr/Nm", &[cut.as_str()]),
                ("PmtInf/CdtTrfTxInf/RmtInf/Ustrd", &[remittance.as_str()]),
            ]),
        );
        // A cut that ends on a space does not leave it behind.
        long.transfers[0].creditor.name = format!("{} Word", "N".repeat(69));
        let name = "N".repeat(69);
        check(
            &long,
            Ok(&[("PmtInf/CdtTrfTxInf/Cdtr/Nm", &[name.as_str()])]),
        );

        long.transfers[0].remittance = "R".repeat(REMITTANCE_LEN_MAX + 1);
        let field = Field::Remittance { transfer: 0 };
        check(
            &long,
            Err(ClearingError::TextTooLong {
                field,
                length_max: REMITTANCE_LEN_MAX,
            }),
        );
        // Length counts after conversion: ß is written "ss".
        long.transfers[0].remittance = "ß".repeat(71);
        check(
            &long,
            Err(ClearingError::TextTooLong {
                field,
                length_max: REMITTANCE_LEN_MAX,
            }),
        );

        let mut identifiers = batch(vec![transfer(&"E".repeat(35), 100, "EUR")]);
        identifiers.message_id = "M".repeat(31);
        check(
            &identifiers,
            Ok(&[(
                "PmtInf/PmtInfId",
                &[format!("{}-1", "M".repeat(31)).as_str()],
            )]),
        );
        identifiers.message_id = "M".repeat(32);
        check(
            &identifiers,
            Err(ClearingError::TextTooLong {
                field: Field::MessageId,
                length_max: MESSAGE_ID_LEN_MAX,
            }),
        );
        identifiers.message_id = "M".to_owned();
        identifiers.transfers[0].end_to_end_id = "E".repeat(36);
        check(
            &identifiers,
            Err(ClearingError::TextTooLong {
                field: Field::EndToEndId { transfer: 0 },
                length_max: END_TO_END_ID_LEN_MAX,
            }),
        );
    }

    #[test]
    fn refuses_malformed_identifiers() {
        let cases = [
            (
                "",
                Some(ClearingError::TextEmpty {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            ("E2E/1", None),
            ("E2E-1 (retry) ?:.,'+", None),
            (
                "/E2E",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            (
                "E2E/",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            (
                "E2E//1",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            (
                " E2E",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            (
                "E2E ",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            (
                "E2E&1",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            (
                "E2E<1>",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            (
                "E2É",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
            (
                "E2E\n1",
                Some(ClearingError::IdentifierInvalid {
                    field: Field::EndToEndId { transfer: 0 },
                }),
            ),
        ];
        for (end_to_end_id, error) in cases {
            let batch = batch(vec![transfer(end_to_end_id, 100, "EUR")]);
            match error {
                None => check(
                    &batch,
                    Ok(&[("PmtInf/CdtTrfTxInf/PmtId/EndToEndId", &[end_to_end_id])]),
                ),
                Some(error) => check(&batch, Err(error)),
            }
        }
        let mut message = batch(vec![transfer("E2E-1", 100, "EUR")]);
        message.message_id = "MSG//1".to_owned();
        check(
            &message,
            Err(ClearingError::IdentifierInvalid {
                field: Field::MessageId,
            }),
        );
        message.message_id = String::new();
        check(
            &message,
            Err(ClearingError::TextEmpty {
                field: Field::MessageId,
            }),
        );
    }

    #[test]
    fn refuses_duplicate_end_to_end_ids_and_empty_texts() {
        let duplicate = batch(vec![
            transfer("E2E-1", 100, "EUR"),
            transfer("E2E-2", 100, "EUR"),
            transfer("E2E-1", 100, "GBP"),
        ]);
        check(
            &duplicate,
            Err(ClearingError::DuplicateEndToEndId {
                transfer: 2,
                first: 0,
            }),
        );

        let mut empty = batch(vec![
            transfer("E2E-1", 100, "EUR"),
            transfer("E2E-2", 100, "EUR"),
        ]);
        empty.transfers[1].creditor.name = " \u{0}\t\u{200B} ".to_owned();
        check(
            &empty,
            Err(ClearingError::TextEmpty {
                field: Field::CreditorName { transfer: 1 },
            }),
        );
        empty.transfers[1].creditor.name = "Name".to_owned();
        empty.transfers[1].remittance = "\r\n".to_owned();
        check(
            &empty,
            Err(ClearingError::TextEmpty {
                field: Field::Remittance { transfer: 1 },
            }),
        );
        empty.debtor.name = String::new();
        check(
            &empty,
            Err(ClearingError::TextEmpty {
                field: Field::DebtorName,
            }),
        );
    }

    #[test]
    fn refuses_empty_oversized_and_non_positive_batches() {
        check(&batch(Vec::new()), Err(ClearingError::NoTransfers));
        let many: Vec<Transfer> = (0..=TRANSFERS_MAX)
            .map(|index| transfer(&index.to_string(), 1, "EUR"))
            .collect();
        check(&batch(many), Err(ClearingError::TooManyTransfers));

        let cases = [
            (
                0,
                "EUR",
                Err(ClearingError::AmountNotPositive { transfer: 1 }),
            ),
            (
                -100,
                "EUR",
                Err(ClearingError::AmountNotPositive { transfer: 1 }),
            ),
            (
                i64::MIN,
                "EUR",
                Err(ClearingError::AmountNotPositive { transfer: 1 }),
            ),
            (
                1_000_000_000_000_000_000,
                "JPY",
                Err(ClearingError::AmountTooLarge { transfer: 1 }),
            ),
            (
                i64::MAX,
                "EUR",
                Err(ClearingError::AmountTooLarge { transfer: 1 }),
            ),
            (999_999_999_999_999_998, "JPY", Ok("999999999999999998")),
            (99_999_999_999_999_998, "EUR", Ok("999999999999999.98")),
        ];
        for (minor, code, expected) in cases {
            let batch = batch(vec![
                transfer("E2E-0", 1, code),
                transfer("E2E-1", minor, code),
            ]);
            match expected {
                Ok(amount) => {
                    let one = if code == "JPY" { "1" } else { "0.01" };
                    let sum = if code == "JPY" {
                        "999999999999999999"
                    } else {
                        "999999999999999.99"
                    };
                    check(
                        &batch,
                        Ok(&[
                            ("PmtInf/CdtTrfTxInf/Amt/InstdAmt", &[one, amount]),
                            ("PmtInf/CtrlSum", &[sum]),
                            ("GrpHdr/CtrlSum", &[sum]),
                        ]),
                    )
                }
                Err(error) => check(&batch, Err(error)),
            }
        }

        let overflowing = batch(vec![
            transfer("E2E-1", 999_999_999_999_999_999, "JPY"),
            transfer("E2E-2", 1, "JPY"),
        ]);
        check(&overflowing, Err(ClearingError::ControlSumTooLarge));
        // Each block fits, but the group total in four decimals does not.
        let group_overflowing = batch(vec![
            transfer("E2E-1", 999_999_999_999_999, "JPY"),
            transfer("E2E-2", 1, "CLF"),
        ]);
        check(&group_overflowing, Err(ClearingError::ControlSumTooLarge));
    }

    #[test]
    fn checks_the_dates() {
        let start_of_day_s = CREATED_AT_S - (20 * 3600 + 15 * 60);
        let mut same_day = batch(vec![transfer("E2E-1", 100, "EUR")]);
        same_day.execution_date_s = start_of_day_s;
        check(&same_day, Ok(&[("PmtInf/ReqdExctnDt", &["2026-11-24"])]));
        let cases = [
            (
                CREATED_AT_S,
                start_of_day_s - 1,
                ClearingError::ExecutionBeforeCreation,
            ),
            (-1, CREATED_AT_S, ClearingError::InstantOutOfRange),
            (
                CREATED_AT_S,
                INSTANT_S_MAX + 1,
                ClearingError::InstantOutOfRange,
            ),
            (i64::MIN, i64::MAX, ClearingError::InstantOutOfRange),
        ];
        for (created_at_s, execution_date_s, error) in cases {
            let mut dated = batch(vec![transfer("E2E-1", 100, "EUR")]);
            dated.created_at_s = created_at_s;
            dated.execution_date_s = execution_date_s;
            check(&dated, Err(error));
        }
        let mut far = batch(vec![transfer("E2E-1", 100, "EUR")]);
        far.execution_date_s = INSTANT_S_MAX;
        check(&far, Ok(&[("PmtInf/ReqdExctnDt", &["9999-12-31"])]));
    }

    #[test]
    fn is_deterministic() {
        let transfers = vec![
            transfer("E2E-1", 1_250, "EUR"),
            transfer("E2E-2", 1_500, "JPY"),
            transfer("E2E-3", 5, "GBP"),
        ];
        let first = write_pain_001(&batch(transfers.clone()));
        let second = write_pain_001(&batch(transfers).clone());
        assert!(first.is_ok());
        assert_eq!(first, second);
    }

    #[test]
    fn formats_utc_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00"),
            (-1, "1969-12-31T23:59:59"),
            (951_782_400, "2000-02-29T00:00:00"),
            (951_868_799, "2000-02-29T23:59:59"),
            (951_868_800, "2000-03-01T00:00:00"),
            (4_102_444_800, "2100-01-01T00:00:00"),
            (4_107_542_400, "2100-03-01T00:00:00"),
            (CREATED_AT_S, "2026-11-24T20:15:00"),
            (INSTANT_S_MAX, "9999-12-31T23:59:59"),
        ];
        for (instant_s, expected) in cases {
            assert_eq!(utc_date_time(instant_s), expected, "{instant_s}");
            assert_eq!(utc_date(instant_s), expected[..10], "{instant_s}");
        }
        // Defined for every instant, even far outside what a batch accepts.
        assert!(!utc_date_time(i64::MIN).is_empty());
        assert!(!utc_date_time(i64::MAX).is_empty());
    }

    #[test]
    fn errors_have_stable_codes() {
        let field = Field::MessageId;
        let cases = [
            (ClearingError::NoTransfers, "no_transfers"),
            (ClearingError::TooManyTransfers, "too_many_transfers"),
            (
                ClearingError::TooManyPaymentBlocks,
                "too_many_payment_blocks",
            ),
            (
                ClearingError::AmountNotPositive { transfer: 0 },
                "amount_not_positive",
            ),
            (
                ClearingError::AmountTooLarge { transfer: 0 },
                "amount_too_large",
            ),
            (ClearingError::ControlSumTooLarge, "control_sum_too_large"),
            (
                ClearingError::TextTooLong {
                    field,
                    length_max: 1,
                },
                "text_too_long",
            ),
            (ClearingError::TextEmpty { field }, "text_empty"),
            (
                ClearingError::IdentifierInvalid { field },
                "invalid_identifier",
            ),
            (
                ClearingError::DuplicateEndToEndId {
                    transfer: 1,
                    first: 0,
                },
                "duplicate_end_to_end_id",
            ),
            (ClearingError::InstantOutOfRange, "invalid_timestamp"),
            (
                ClearingError::ExecutionBeforeCreation,
                "execution_before_creation",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
        }
        assert_eq!(
            ClearingError::TextEmpty {
                field: Field::Remittance { transfer: 3 }
            }
            .to_string(),
            "transfers[3].remittance is empty"
        );
    }
}
