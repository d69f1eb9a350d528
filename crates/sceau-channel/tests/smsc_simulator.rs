//! The SMSC simulator and its test helper, checked with SMPP PDUs written here by hand,
//! without the SMPP client: what the client's tests will rely on holds (binds refused and
//! accepted, answers, receipts in their forms, the decoded texts and the reassembly, and
//! every control command).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::smsc::{Smsc, WAIT_S_MAX};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIND_RECEIVER: u32 = 0x0000_0001;
const BIND_TRANSMITTER: u32 = 0x0000_0002;
const SUBMIT_SM: u32 = 0x0000_0004;
const DELIVER_SM: u32 = 0x0000_0005;
const BIND_TRANSCEIVER: u32 = 0x0000_0009;
const ENQUIRE_LINK: u32 = 0x0000_0015;
const RESPONSE: u32 = 0x8000_0000;

const ESME_RINVCMDLEN: u32 = 0x02;
const ESME_RBINDFAIL: u32 = 0x0D;
const ESME_RINVPASWD: u32 = 0x0E;
const ESME_RMSGQFUL: u32 = 0x14;
const ESME_RTHROTTLED: u32 = 0x58;

const TLV_RECEIPTED_MESSAGE_ID: u16 = 0x001E;
const TLV_MESSAGE_STATE: u16 = 0x0427;

const SYSTEM_ID: &str = "sceau";
const PASSWORD: &str = "secret";

struct Pdu {
    command_id: u32,
    status: u32,
    sequence: u32,
    body: Vec<u8>,
}

/// One SMPP connection, driven PDU by PDU.
struct Esme {
    stream: TcpStream,
    sequence: u32,
}

impl Esme {
    async fn connect(smsc: &Smsc) -> Esme {
        let stream = TcpStream::connect(smsc.addr())
            .await
            .expect("connect to the simulator");
        Esme {
            stream,
            sequence: 0,
        }
    }

    async fn write(&mut self, command_id: u32, status: u32, sequence: u32, body: &[u8]) {
        let length = u32::try_from(16 + body.len()).unwrap();
        let mut bytes = Vec::new();
        for word in [length, command_id, status, sequence] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend_from_slice(body);
        self.stream.write_all(&bytes).await.expect("write a PDU");
    }

    async fn send(&mut self, command_id: u32, body: &[u8]) -> u32 {
        self.sequence += 1;
        self.write(command_id, 0, self.sequence, body).await;
        self.sequence
    }

    async fn answer(&mut self, pdu: &Pdu, body: &[u8]) {
        self.write(pdu.command_id | RESPONSE, 0, pdu.sequence, body)
            .await;
    }

    async fn read(&mut self) -> Pdu {
        let read = async {
            let mut header = [0u8; 16];
            self.stream.read_exact(&mut header).await?;
            let word = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
            let mut body = vec![0u8; usize::try_from(word(0)).unwrap() - 16];
            self.stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>(Pdu {
                command_id: word(4),
                status: word(8),
                sequence: word(12),
                body,
            })
        };
        tokio::time::timeout(Duration::from_secs(WAIT_S_MAX), read)
            .await
            .expect("a PDU from the simulator in time")
            .expect("read a PDU")
    }

    /// Binds and returns the bind response's status.
    async fn bind(&mut self, command_id: u32, system_id: &str, password: &str) -> u32 {
        let mut body = [cstring(system_id), cstring(password), cstring("")].concat();
        body.extend_from_slice(&[0x34, 0, 0, 0]); // interface_version, addr_ton, addr_npi, address_range
        let sequence = self.send(command_id, &body).await;
        let response = self.read().await;
        assert_eq!(
            (response.command_id, response.sequence),
            (command_id | RESPONSE, sequence)
        );
        response.status
    }

    async fn bound(smsc: &Smsc, command_id: u32) -> Esme {
        let mut esme = Esme::connect(smsc).await;
        assert_eq!(esme.bind(command_id, SYSTEM_ID, PASSWORD).await, 0);
        esme
    }

    /// Submits and returns the response's status and message id.
    async fn submit(&mut self, body: &[u8]) -> (u32, String) {
        let sequence = self.send(SUBMIT_SM, body).await;
        let response = self.read().await;
        assert_eq!(
            (response.command_id, response.sequence),
            (SUBMIT_SM | RESPONSE, sequence)
        );
        // An error's answer may have no body.
        let id = if response.body.is_empty() {
            String::new()
        } else {
            read_cstring(&response.body, &mut 0)
        };
        (response.status, id)
    }

    /// Reads a deliver_sm, answers it, and returns it.
    async fn receipt(&mut self) -> Deliver {
        let pdu = self.read().await;
        assert_eq!(pdu.command_id, DELIVER_SM);
        self.answer(&pdu, &cstring("")).await;
        Deliver::parse(&pdu.body)
    }
}

fn cstring(text: &str) -> Vec<u8> {
    [text.as_bytes(), &[0]].concat()
}

fn read_cstring(bytes: &[u8], at: &mut usize) -> String {
    let end = *at
        + bytes[*at..]
            .iter()
            .position(|&byte| byte == 0)
            .expect("a C string");
    let text = String::from_utf8(bytes[*at..end].to_vec()).expect("an ASCII string");
    *at = end + 1;
    text
}

/// A submit_sm from SCEAU (alphanumeric: TON 5, NPI 0) to +33 6 12 34 56 78 (TON 1, NPI 1).
fn submit(
    esm_class: u8,
    data_coding: u8,
    registered_delivery: u8,
    short_message: &[u8],
) -> Vec<u8> {
    [
        cstring(""),
        vec![5, 0],
        cstring("SCEAU"),
        vec![1, 1],
        cstring("33612345678"),
        vec![esm_class, 0, 0],
        cstring(""),
        cstring("000000001000000R"),
        vec![
            registered_delivery,
            0,
            data_coding,
            0,
            u8::try_from(short_message.len()).unwrap(),
        ],
        short_message.to_vec(),
    ]
    .concat()
}

/// A delivery receipt as the simulator sends it.
struct Deliver {
    source: String,
    destination: String,
    esm_class: u8,
    text: String,
    tlvs: Vec<(u16, Vec<u8>)>,
}

impl Deliver {
    fn parse(body: &[u8]) -> Deliver {
        let mut at = 0;
        read_cstring(body, &mut at); // service_type
        at += 2;
        let source = read_cstring(body, &mut at);
        at += 2;
        let destination = read_cstring(body, &mut at);
        let esm_class = body[at];
        at += 3; // esm_class, protocol_id, priority_flag
        read_cstring(body, &mut at); // schedule_delivery_time
        read_cstring(body, &mut at); // validity_period
        at += 4; // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
        let length = usize::from(body[at]);
        let text =
            String::from_utf8(body[at + 1..at + 1 + length].to_vec()).expect("an ASCII receipt");
        at += 1 + length;
        let mut tlvs = Vec::new();
        while at + 4 <= body.len() {
            let tag = u16::from_be_bytes([body[at], body[at + 1]]);
            let size = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
            tlvs.push((tag, body[at + 4..at + 4 + size].to_vec()));
            at += 4 + size;
        }
        Deliver {
            source,
            destination,
            esm_class,
            text,
            tlvs,
        }
    }

    fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|(found, _)| *found == tag)
            .map(|(_, value)| value.as_slice())
    }
}

/// `{€}[ code 1234` in GSM 03.38, one septet per octet: four escapes to the extension table.
const GSM_TEXT: &[u8] = b"\x1b\x28\x1b\x65\x1b\x29\x1b\x3c code 1234";

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

#[tokio::test]
async fn binds_are_refused_without_the_password_and_accepted_with_it() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let mut esme = Esme::connect(&smsc).await;
    assert_eq!(
        esme.bind(BIND_TRANSCEIVER, SYSTEM_ID, "wrong").await,
        ESME_RINVPASWD
    );
    assert_eq!(
        esme.bind(BIND_TRANSCEIVER, "stranger", PASSWORD).await,
        ESME_RBINDFAIL
    );
    assert_eq!(esme.bind(BIND_TRANSCEIVER, SYSTEM_ID, PASSWORD).await, 0);
    let mut receiver = Esme::connect(&smsc).await;
    assert_eq!(receiver.bind(BIND_RECEIVER, SYSTEM_ID, PASSWORD).await, 0);

    let stats = smsc.stats().await;
    assert_eq!(
        (stats["binds"].as_u64(), stats["binds_refused"].as_u64()),
        (Some(2), Some(2))
    );
    let types: Vec<&str> = stats["bound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bind| bind["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["transceiver", "receiver"]);
}

#[tokio::test]
async fn a_gsm_text_is_answered_recorded_as_decoded_here_and_receipted() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let mut esme = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    let (status, id) = esme.submit(&submit(0, 0, 1, GSM_TEXT)).await;
    assert_eq!(status, 0);
    assert!(
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
        "{id}"
    );

    let receipt = esme.receipt().await;
    assert_eq!(receipt.esm_class, 0x04);
    assert_eq!(
        (receipt.source.as_str(), receipt.destination.as_str()),
        ("33612345678", "SCEAU")
    );
    assert_eq!(
        receipt.tlv(TLV_RECEIPTED_MESSAGE_ID),
        Some(cstring(&id).as_slice())
    );
    assert_eq!(receipt.tlv(TLV_MESSAGE_STATE), Some([2u8].as_slice()));
    assert!(
        receipt
            .text
            .starts_with(&format!("id:{id} sub:001 dlvrd:001 submit date:")),
        "{}",
        receipt.text
    );
    assert!(
        receipt.text.contains(" stat:DELIVRD err:000 text:"),
        "{}",
        receipt.text
    );

    smsc.wait_stats("the receipt answered", |stats| {
        stats["receipts_answered"] == 1
    })
    .await;
    let messages = smsc.messages().await;
    assert_eq!(messages.len(), 1);
    let part = &messages[0]["parts"][0];
    assert_eq!(messages[0]["text"], "{€}[ code 1234");
    assert_eq!(part["message_id"], id.as_str());
    assert_eq!(part["source"], json!({"addr": "SCEAU", "ton": 5, "npi": 0}));
    assert_eq!(
        part["destination"],
        json!({"addr": "33612345678", "ton": 1, "npi": 1})
    );
    assert_eq!(
        (
            part["data_coding"].as_u64(),
            part["registered_delivery"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(part["validity_period"], "000000001000000R");
    assert_eq!(part["errors"], json!([]));
    assert_eq!(part["receipt"]["state"], "answered");
}

#[tokio::test]
async fn concatenated_ucs2_parts_are_reassembled_in_order_and_cut_pairs_are_noted() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let mut esme = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    let udh = |seq: u8| vec![0x05, 0x00, 0x03, 0x2A, 0x02, seq];
    // The second part first: the reassembly follows the header, not the arrival.
    let second = [udh(2), utf16("世界 🙂")].concat();
    let first = [udh(1), utf16("Привет, ")].concat();
    assert_eq!(esme.submit(&submit(0x40, 8, 0, &second)).await.0, 0);
    assert_eq!(smsc.messages().await[0]["complete"], false);
    assert_eq!(esme.submit(&submit(0x40, 8, 0, &first)).await.0, 0);

    let messages = smsc.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["complete"], true);
    assert_eq!(messages[0]["text"], "Привет, 世界 🙂");
    assert_eq!(
        messages[0]["parts"][0]["udh"],
        json!({"ref": 42, "total": 2, "seq": 2})
    );
    // No receipt was asked for (registered_delivery 0): none is sent.
    assert!(messages[0]["parts"][0]["receipt"].is_null());

    // A part that ends in the middle of a surrogate pair, or of a GSM escape, is noted.
    let cut = utf16("🙂");
    assert_eq!(esme.submit(&submit(0, 8, 0, &cut[..2])).await.0, 0);
    assert_eq!(esme.submit(&submit(0, 0, 0, b"abc\x1b")).await.0, 0);
    let messages = smsc.messages().await;
    assert_eq!(
        messages[1]["parts"][0]["errors"],
        json!(["high surrogate at the end of the part"])
    );
    assert_eq!(
        messages[2]["parts"][0]["errors"],
        json!(["escape at the end of the part"])
    );
}

#[tokio::test]
async fn receipts_take_the_forms_asked_for() {
    let Some(smsc) = Smsc::start_with(
        SYSTEM_ID,
        PASSWORD,
        &["--first-id", "3054", "--id-format", "hex-lower"],
    )
    .await
    else {
        return;
    };
    let mut esme = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    let (_, id) = esme.submit(&submit(0, 0, 1, b"one")).await;
    assert_eq!(id, "bee");
    assert!(esme.receipt().await.text.starts_with("id:bee "));

    // The text's id in decimal while the answer gave hex, and no TLVs: only the text.
    smsc.control(json!({"command": "set", "receipt_id_form": "decimal", "receipt_tlvs": false}))
        .await;
    let (_, id) = esme.submit(&submit(0, 0, 1, b"two")).await;
    assert_eq!(id, "bef");
    let receipt = esme.receipt().await;
    assert!(receipt.text.starts_with("id:3055 "), "{}", receipt.text);
    assert!(receipt.tlvs.is_empty());

    // An undeliverable message, reported when only failures were asked for.
    smsc.control(
        json!({"command": "set", "receipt_id_form": "decimal-padded", "receipt_stat": "UNDELIV"}),
    )
    .await;
    esme.submit(&submit(0, 0, 2, b"three")).await;
    let receipt = esme.receipt().await;
    assert!(
        receipt.text.starts_with("id:0000003056 sub:001 dlvrd:000 "),
        "{}",
        receipt.text
    );
    assert!(receipt.text.contains(" stat:UNDELIV "), "{}", receipt.text);
}

#[tokio::test]
async fn receipts_go_to_another_bind_or_wait_for_one_or_for_their_release() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    smsc.control(json!({"command": "set", "receipts": "other"}))
        .await;
    let mut transmitter = Esme::bound(&smsc, BIND_TRANSMITTER).await;
    let (_, id) = transmitter.submit(&submit(0, 0, 1, b"hello")).await;
    smsc.wait_stats("the receipt waiting for a receiver", |stats| {
        stats["receipts_waiting"] == 1
    })
    .await;
    let mut receiver = Esme::bound(&smsc, BIND_RECEIVER).await;
    assert!(
        receiver
            .receipt()
            .await
            .text
            .starts_with(&format!("id:{id} "))
    );

    smsc.control(json!({"command": "set", "hold_receipts": true}))
        .await;
    let (_, id) = transmitter.submit(&submit(0, 0, 1, b"later")).await;
    smsc.wait_stats("the receipt held", |stats| stats["receipts_held"] == 1)
        .await;
    assert_eq!(
        smsc.control(json!({"command": "release_receipts"})).await["released"],
        1
    );
    assert!(
        receiver
            .receipt()
            .await
            .text
            .starts_with(&format!("id:{id} "))
    );
}

#[tokio::test]
async fn throttled_and_rejected_submits_are_counted_and_not_recorded() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let mut esme = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    smsc.control(json!({"command": "throttle", "count": 2}))
        .await;
    assert_eq!(esme.submit(&submit(0, 0, 0, b"a")).await.0, ESME_RTHROTTLED);
    assert_eq!(esme.submit(&submit(0, 0, 0, b"a")).await.0, ESME_RTHROTTLED);
    smsc.control(json!({"command": "reject", "count": 1, "status": ESME_RMSGQFUL}))
        .await;
    assert_eq!(esme.submit(&submit(0, 0, 0, b"a")).await.0, ESME_RMSGQFUL);
    assert_eq!(esme.submit(&submit(0, 0, 0, b"a")).await.0, 0);

    let stats = smsc.stats().await;
    let counts =
        ["submits", "throttled", "rejected", "accepted"].map(|name| stats[name].as_u64().unwrap());
    assert_eq!(counts, [4, 2, 1, 1]);
    assert_eq!(smsc.messages().await.len(), 1);

    smsc.control(json!({"command": "reset"})).await;
    assert_eq!(smsc.stats().await["submits"], 0);
    assert!(smsc.messages().await.is_empty());
    let (status, answer) = smsc
        .control_answer(&json!({"command": "throttle", "count": -1}))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("count must be an integer >= 0"))
    );
}

#[tokio::test]
async fn a_silent_simulator_reads_and_answers_nothing_until_it_speaks_again() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let mut esme = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    smsc.control(json!({"command": "silence", "on": true}))
        .await;
    for _ in 0..3 {
        esme.send(SUBMIT_SM, &submit(0, 0, 1, b"lost")).await;
    }
    let stats = smsc
        .wait_stats("the submits read", |stats| stats["ignored"] == 3)
        .await;
    assert_eq!(stats["outstanding_max"], 3);
    smsc.control(json!({"command": "silence", "on": false}))
        .await;
    // The first answer after the silence is to the enquire_link: the submits got none.
    let sequence = esme.send(ENQUIRE_LINK, &[]).await;
    let answer = esme.read().await;
    assert_eq!(
        (answer.command_id, answer.sequence),
        (ENQUIRE_LINK | RESPONSE, sequence)
    );
    assert!(smsc.messages().await.is_empty());
}

#[tokio::test]
async fn the_simulator_sends_enquire_link_and_records_the_answers() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let mut answering = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    let mut mute = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    assert_eq!(
        smsc.control(json!({"command": "enquire_link"})).await["sent"],
        2
    );
    let enquire_link = answering.read().await;
    assert_eq!(enquire_link.command_id, ENQUIRE_LINK);
    answering.answer(&enquire_link, &[]).await;
    assert_eq!(mute.read().await.command_id, ENQUIRE_LINK);

    let stats = smsc
        .wait_stats("one answer", |stats| stats["enquire_links_answered"] == 1)
        .await;
    assert_eq!(stats["enquire_links_sent"], 2);
    let answered: Vec<&Value> = stats["bound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bind| &bind["enquire_links_answered"])
        .collect();
    assert_eq!(answered, [1, 0]);
}

#[tokio::test]
async fn connections_are_closed_refused_and_accepted_again_on_command() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let mut esme = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    assert_eq!(
        smsc.control(json!({"command": "close_all"})).await["closed"],
        1
    );
    let mut byte = [0u8; 1];
    assert_eq!(
        esme.stream.read(&mut byte).await.unwrap_or(0),
        0,
        "the connection was closed"
    );

    smsc.control(json!({"command": "down"})).await;
    assert!(
        TcpStream::connect(smsc.addr()).await.is_err(),
        "connections are refused"
    );
    smsc.control(json!({"command": "down", "refuse": "binds"}))
        .await;
    let mut esme = Esme::connect(&smsc).await;
    assert_eq!(
        esme.bind(BIND_TRANSCEIVER, SYSTEM_ID, PASSWORD).await,
        ESME_RBINDFAIL
    );
    smsc.control(json!({"command": "up"})).await;
    assert_eq!(esme.bind(BIND_TRANSCEIVER, SYSTEM_ID, PASSWORD).await, 0);

    smsc.control(json!({"command": "down"})).await;
    smsc.control(json!({"command": "up"})).await;
    Esme::bound(&smsc, BIND_TRANSCEIVER).await;
}

#[tokio::test]
async fn garbage_drops_its_connection_and_the_simulator_goes_on() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let garbage: [&[u8]; 3] = [
        &[0xff; 24],                  // command_length far too large
        &[0, 0, 0, 5, 1, 2, 3, 4, 5], // command_length under the header
        b"GET / HTTP/1.1\r\n\r\n",
    ];
    for bytes in garbage {
        let mut esme = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
        esme.stream.write_all(bytes).await.unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(
            Duration::from_secs(WAIT_S_MAX),
            esme.stream.read_to_end(&mut rest),
        )
        .await;
        assert!(
            closed.is_ok(),
            "the simulator closed the connection after {bytes:?}"
        );
    }
    assert_eq!(smsc.stats().await["dropped"], 3);

    // A submit_sm that ends before its mandatory fields do is refused, not recorded.
    let mut esme = Esme::bound(&smsc, BIND_TRANSCEIVER).await;
    let short = [cstring(""), vec![5, 0], cstring("SCEAU")].concat();
    assert_eq!(esme.submit(&short).await.0, ESME_RINVCMDLEN);
    assert_eq!(esme.submit(&submit(0, 0, 0, b"still here")).await.0, 0);
    assert_eq!(smsc.messages().await.len(), 1);
}
