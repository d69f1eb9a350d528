//! The SMPP route against the SMSC simulator (node-smpp, `tests/smsc`), and against a
//! hostile SMSC written here. Nothing waits a fixed time: conditions are polled, and the
//! route's timeouts are configured short.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use sceau_channel::smpp::{SmppConfig, SmppRoute};
use sceau_channel::{ChannelError, DeliveryReport, OutgoingText, ReportOutcome, SecondChannel};
use sceau_domain::PhoneNumber;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::smsc::{Smsc, WAIT_S_MAX};
use tokio::sync::mpsc;

const SYSTEM_ID: &str = "sceau";
const PASSWORD: &str = "s3cret";

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn phone() -> PhoneNumber {
    "+33612345678".parse().unwrap()
}

fn text<'a>(message_id: i64, to: &'a PhoneNumber, body: &'a str) -> OutgoingText<'a> {
    OutgoingText {
        message_id,
        to,
        text: body,
        expires_at_s: now_s() + 300,
    }
}

/// A route's configuration as an operator writes it, with short timeouts (`more` adds
/// or replaces keys); the password in a file of `directory`.
fn config(port: u16, directory: &Path, password: &str, more: &str) -> SmppConfig {
    let file = directory.join("smsc.password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let short = "pdu_timeout_s = 1\nenquire_link_s = 1\nreconnect_min_ms = 20\n\
                 reconnect_max_ms = 200\nthrottle_pause_ms = 50\n";
    let replaced = |line: &&str| {
        !more
            .lines()
            .any(|set| set.split('=').next() == line.split('=').next())
    };
    let short: String = short
        .lines()
        .filter(replaced)
        .map(|line| format!("{line}\n"))
        .collect();
    let toml = format!(
        "host = \"127.0.0.1\"\nport = {port}\nsystem_id = \"{SYSTEM_ID}\"\n\
         password = {{ file = \"{}\" }}\nsource_addr = \"SCEAU\"\nsource_ton = 5\n\
         source_npi = 0\n{short}{more}",
        file.display()
    );
    toml::from_str(&toml).unwrap()
}

struct Started {
    route: SmppRoute,
    reports: mpsc::Receiver<DeliveryReport>,
    _directory: tempfile::TempDir,
}

async fn start(smsc: &Smsc, more: &str) -> Started {
    let directory = tempfile::tempdir().unwrap();
    let config = config(smsc.addr().port(), directory.path(), PASSWORD, more);
    let (sink, reports) = mpsc::channel(1_000);
    let route = SmppRoute::start("operator", &config, sink).unwrap();
    until("the route is bound", || route.status().bound).await;
    Started {
        route,
        reports,
        _directory: directory,
    }
}

/// Waits for `condition`, checking it again every few milliseconds.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(WAIT_S_MAX);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "waited for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next_report(reports: &mut mpsc::Receiver<DeliveryReport>) -> DeliveryReport {
    let wait = Duration::from_secs(WAIT_S_MAX);
    tokio::time::timeout(wait, reports.recv())
        .await
        .unwrap()
        .unwrap()
}

fn ids(message: &Value) -> Vec<String> {
    let parts = message["parts"].as_array().unwrap();
    let mut parts: Vec<&Value> = parts.iter().collect();
    parts.sort_by_key(|part| part["udh"]["seq"].as_u64().unwrap_or(1));
    parts
        .iter()
        .map(|part| part["message_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_refused_bind_is_counted_and_retried_until_the_password_is_right() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let config = config(smsc.addr().port(), directory.path(), "wrong", "");
    let (sink, _reports) = mpsc::channel(10);
    let route = SmppRoute::start("operator", &config, sink).unwrap();
    until("two refused binds", || route.status().binds_refused >= 2).await;
    assert!(!route.status().bound);
    smsc.wait_stats("the refusals", |stats| {
        stats["binds_refused"].as_u64() >= Some(2)
    })
    .await;
    // The password is read again at each bind: the corrected file is enough.
    std::fs::write(directory.path().join("smsc.password"), PASSWORD).unwrap();
    until("the route is bound", || route.status().bound).await;
    let to = phone();
    let accepted = route.send(&text(1, &to, "hello")).await.unwrap();
    assert_eq!(accepted.parts.len(), 1);
    route.shutdown().await;
    smsc.wait_stats("the unbind", |stats| stats["unbinds"].as_u64() >= Some(1))
        .await;
}

#[tokio::test]
async fn gsm_ucs2_and_long_texts_arrive_whole_and_in_order() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let started = start(&smsc, "").await;
    let to = phone();
    let long: String = (1..=45).map(|n| format!("part{n:03} ")).collect();
    let texts = [
        ("Code {€}[ 1234", 0),
        ("Код 4821, 代码 4821", 8),
        (long.as_str(), 0),
    ];
    let mut accepted = Vec::new();
    for (n, (body, _)) in texts.iter().enumerate() {
        accepted.push(
            started
                .route
                .send(&text(n as i64 + 1, &to, body))
                .await
                .unwrap(),
        );
    }
    assert_eq!(accepted[2].parts.len(), 3, "{} characters", long.len());
    let messages = smsc
        .wait_messages("three messages", |messages| messages.len() == 3)
        .await;
    for (((body, coding), message), accepted) in texts.iter().zip(&messages).zip(&accepted) {
        assert_eq!(message["complete"], json!(true));
        assert_eq!(message["text"], json!(body));
        assert_eq!(
            message["destination"],
            json!({"addr": "33612345678", "ton": 1, "npi": 1})
        );
        assert_eq!(
            message["source"],
            json!({"addr": "SCEAU", "ton": 5, "npi": 0})
        );
        assert_eq!(ids(message), accepted.parts, "the parts' ids in order");
        for part in message["parts"].as_array().unwrap() {
            assert_eq!(part["data_coding"], json!(coding), "{body}");
            assert_eq!(part["errors"], json!([]));
            assert_eq!(part["registered_delivery"], json!(1));
            let validity = part["validity_period"].as_str().unwrap();
            assert!(
                validity.starts_with("00000000") && validity.ends_with("000R"),
                "{validity}"
            );
        }
    }
}

#[tokio::test]
async fn a_throttled_part_is_transient_and_goes_through_when_sent_again() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let started = start(&smsc, "").await;
    smsc.control(json!({"command": "throttle", "count": 2}))
        .await;
    let to = phone();
    let message = text(7, &to, "throttled first");
    for _ in 0..2 {
        match started.route.send(&message).await {
            Err(ChannelError::Transient(why)) => assert!(why.contains("ESME_RTHROTTLED"), "{why}"),
            other => panic!("expected a transient refusal, got {other:?}"),
        }
    }
    started.route.send(&message).await.unwrap();
    let stats = smsc.stats().await;
    assert_eq!(
        (stats["throttled"].as_u64(), stats["accepted"].as_u64()),
        (Some(2), Some(1))
    );
}

#[tokio::test]
async fn a_part_refused_for_good_fails_the_message() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let started = start(&smsc, "").await;
    // ESME_RINVDSTADR: the destination is refused.
    smsc.control(json!({"command": "reject", "count": 1, "status": 0x0B}))
        .await;
    let to = phone();
    let refused = started.route.send(&text(8, &to, "refused")).await;
    assert!(
        matches!(refused, Err(ChannelError::Permanent(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn receipts_become_reports_for_every_part_in_the_form_the_receipt_writes() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let mut started = start(&smsc, "").await;
    let to = phone();
    let one = started.route.send(&text(1, &to, "one part")).await.unwrap();
    let report = next_report(&mut started.reports).await;
    assert_eq!(report.route, "operator");
    assert_eq!(report.provider_id, one.parts[0]);
    assert_eq!(report.outcome, ReportOutcome::Delivered);
    assert_eq!(report.status.as_deref(), Some("DELIVRD err:000"));
    // Without the TLVs, from the text, whose id is in decimal when the answer gave hex.
    let settings = json!({"command": "set", "receipt_tlvs": false, "receipt_id_form": "decimal",
        "receipt_stat": "UNDELIV"});
    smsc.control(settings).await;
    let long = "x".repeat(200);
    let two = started.route.send(&text(2, &to, &long)).await.unwrap();
    assert_eq!(two.parts.len(), 2);
    let mut reported = [
        next_report(&mut started.reports).await,
        next_report(&mut started.reports).await,
    ];
    reported.sort_by(|a, b| a.provider_id.cmp(&b.provider_id));
    for (report, hex) in reported.iter().zip(&two.parts) {
        let decimal = u64::from_str_radix(hex, 16).unwrap().to_string();
        assert_eq!(
            (report.provider_id.as_str(), report.outcome),
            (decimal.as_str(), ReportOutcome::Failed)
        );
        assert_eq!(report.status.as_deref(), Some("UNDELIV err:000"));
    }
    smsc.wait_stats("receipts answered", |stats| {
        stats["receipts_answered"].as_u64() == Some(3)
    })
    .await;
}

#[tokio::test]
async fn the_smscs_enquire_link_is_answered() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let started = start(&smsc, "enquire_link_s = 60\n").await;
    let sent = smsc.control(json!({"command": "enquire_link"})).await;
    assert_eq!(sent["sent"], json!(1));
    smsc.wait_stats("the answer", |stats| {
        stats["enquire_links_answered"].as_u64() == Some(1)
    })
    .await;
    assert_eq!(started.route.status().links_lost, 0);
}

#[tokio::test]
async fn a_silent_smsc_is_declared_dead_and_bound_again() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let started = start(&smsc, "").await;
    smsc.control(json!({"command": "silence", "on": true}))
        .await;
    let route = &started.route;
    until("the silent link declared dead", || {
        route.status().links_lost >= 1
    })
    .await;
    smsc.control(json!({"command": "silence", "on": false}))
        .await;
    until("a new bind", || {
        route.status().bound && route.status().binds >= 2
    })
    .await;
    let to = phone();
    route
        .send(&text(1, &to, "after the silence"))
        .await
        .unwrap();
}

/// Sends like the dispatcher does: again after a transient failure.
async fn send_until_accepted(route: &SmppRoute, message: &OutgoingText<'_>) -> Vec<String> {
    loop {
        match route.send(message).await {
            Ok(accepted) => return accepted.parts,
            Err(ChannelError::Transient(_)) => tokio::task::yield_now().await,
            Err(other) => panic!("{other}"),
        }
    }
}

#[tokio::test]
async fn sends_resume_after_the_smsc_is_killed_and_restarted() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let port = smsc.addr().port().to_string();
    let started = start(&smsc, "").await;
    let to = phone();
    for n in 0..5 {
        send_until_accepted(&started.route, &text(n, &to, "before")).await;
    }
    smsc.kill().await;
    until("the lost link noticed", || !started.route.status().bound).await;
    let restarted = Smsc::start_with(SYSTEM_ID, PASSWORD, &["--port", &port])
        .await
        .unwrap();
    for n in 5..10 {
        send_until_accepted(&started.route, &text(n, &to, "after")).await;
    }
    let messages = restarted
        .wait_messages("five messages", |messages| messages.len() == 5)
        .await;
    assert!(
        messages
            .iter()
            .all(|message| message["text"] == json!("after"))
    );
    assert!(started.route.status().links_lost >= 1);
}

#[tokio::test]
async fn a_message_whose_life_ends_while_the_smsc_is_down_expires_unsent() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    // Waiting for a bind longer than the message lives: it expires while it waits.
    let started = start(&smsc, "pdu_timeout_s = 30\n").await;
    smsc.control(json!({"command": "down", "refuse": "connections"}))
        .await;
    smsc.control(json!({"command": "close_all"})).await;
    let route = &started.route;
    until("the route unbound", || !route.status().bound).await;
    let to = phone();
    let mut message = text(1, &to, "a seal that lives two seconds");
    message.expires_at_s = now_s() + 2;
    // Without a bind the route says so after an answer's time (so that the message can
    // go to the next route); asked again, it never submits past the message's life.
    loop {
        match route.send(&message).await {
            Err(ChannelError::Transient(_)) => continue,
            Err(ChannelError::Expired) => break,
            other => panic!("{other:?}"),
        }
    }
    smsc.control(json!({"command": "up"})).await;
    until("bound again", || route.status().bound).await;
    route.send(&text(2, &to, "later")).await.unwrap();
    let messages = smsc
        .wait_messages("one message", |messages| !messages.is_empty())
        .await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["text"], json!("later"));
    assert_eq!(smsc.stats().await["submits"], json!(1));
}

#[tokio::test]
async fn without_a_bind_a_message_is_left_to_the_next_route() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, PASSWORD).await else {
        return;
    };
    let started = start(&smsc, "").await;
    smsc.control(json!({"command": "down", "refuse": "connections"}))
        .await;
    smsc.control(json!({"command": "close_all"})).await;
    let route = &started.route;
    until("the route unbound", || !route.status().bound).await;
    let to = phone();
    // It lives five minutes, but the route gives up on a bind after pdu_timeout_s.
    let sent = route.send(&text(1, &to, "for the next route")).await;
    match sent {
        Err(ChannelError::Transient(why)) => assert!(why.contains("no bind"), "{why}"),
        other => panic!("expected a transient failure, got {other:?}"),
    }
    smsc.control(json!({"command": "up"})).await;
    until("bound again", || route.status().bound).await;
    assert_eq!(smsc.stats().await["submits"], json!(0));
}

#[tokio::test]
async fn the_window_bounds_the_submits_awaiting_an_answer() {
    let Some(smsc) = Smsc::start_with(SYSTEM_ID, PASSWORD, &["--response-delay-ms", "20"]).await
    else {
        return;
    };
    let started = std::sync::Arc::new(start(&smsc, "window = 3\nrate_per_s = 10000\n").await);
    let sends = (0..30).map(|n| {
        let started = started.clone();
        tokio::spawn(async move {
            let to = phone();
            started.route.send(&text(n, &to, "windowed")).await.unwrap();
        })
    });
    for send in sends.collect::<Vec<_>>() {
        send.await.unwrap();
    }
    let stats = smsc.stats().await;
    assert_eq!(stats["accepted"], json!(30));
    assert_eq!(stats["outstanding_max"], json!(3), "{stats}");
}

/// Reads a bind from a client and returns its sequence number.
async fn read_bind(socket: &mut tokio::net::TcpStream) -> u32 {
    use tokio::io::AsyncReadExt;
    let mut length = [0; 4];
    socket.read_exact(&mut length).await.unwrap();
    let mut rest = vec![0; u32::from_be_bytes(length) as usize - 4];
    socket.read_exact(&mut rest).await.unwrap();
    assert_eq!(rest[..4], [0, 0, 0, 9], "a bind_transceiver");
    u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]])
}

fn bind_answer(sequence: u32) -> Vec<u8> {
    let mut answer = vec![0, 0, 0, 18, 0x80, 0, 0, 9, 0, 0, 0, 0];
    answer.extend_from_slice(&sequence.to_be_bytes());
    answer.extend_from_slice(b"S\0");
    answer
}

#[tokio::test]
async fn a_hostile_smsc_loses_its_connection_and_the_route_binds_again() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let directory = tempfile::tempdir().unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = config(port, directory.path(), PASSWORD, "enquire_link_s = 60\n");
    let (sink, _reports) = mpsc::channel(10);
    let route = SmppRoute::start("hostile", &config, sink).unwrap();
    let wait = Duration::from_secs(WAIT_S_MAX);
    let misdeeds: [&[u8]; 5] = [
        // A command_length of 4 GiB, then of 64 KiB + 1.
        &[0xff, 0xff, 0xff, 0xff],
        &[0, 1, 0, 1, 0, 0, 0, 0],
        // A submit_sm_resp answering no request (sequence 12345).
        &[
            0, 0, 0, 20, 0x80, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0x30, 0x39, b'a', b'b', b'c', 0,
        ],
        // An enquire_link_resp answering no enquiry (sequence 9).
        &[0, 0, 0, 16, 0x80, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9],
        // Not SMPP at all.
        b"GET / HTTP/1.1\r\nHost: smsc\r\n\r\n",
    ];
    for (done, misdeed) in misdeeds.iter().enumerate() {
        let (mut socket, _) = tokio::time::timeout(wait, listener.accept())
            .await
            .unwrap()
            .unwrap();
        let sequence = read_bind(&mut socket).await;
        socket.write_all(&bind_answer(sequence)).await.unwrap();
        until("bound", || route.status().bound).await;
        assert_eq!(route.status().links_lost, done as u64);
        socket.write_all(misdeed).await.unwrap();
        // The route hangs up (what it sent before does not matter).
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(wait, socket.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "the connection stayed open after misdeed {done}"
        );
    }
    let (mut socket, _) = tokio::time::timeout(wait, listener.accept())
        .await
        .unwrap()
        .unwrap();
    read_bind(&mut socket).await;
    until("five links dropped", || route.status().links_lost == 5).await;
}

/// How many parts one bind submits per second: 5,000 single-part texts from 100 tasks
/// with a window of 10, against the simulator, receipts off. Run it on purpose:
/// `cargo test --release -p sceau-channel --test smpp -- --ignored --nocapture submit_rate`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measure, not a check"]
async fn submit_rate_on_one_bind_with_a_window_of_10() {
    let arguments = ["--quiet", "--receipts", "none"];
    let Some(smsc) = Smsc::start_with(SYSTEM_ID, PASSWORD, &arguments).await else {
        return;
    };
    let started = std::sync::Arc::new(start(&smsc, "window = 10\nrate_per_s = 100000\n").await);
    let (tasks, each) = (100, 50);
    let begin = std::time::Instant::now();
    let senders: Vec<_> = (0..tasks)
        .map(|task| {
            let started = started.clone();
            tokio::spawn(async move {
                let to = phone();
                for n in 0..each {
                    let message = text(task * each + n, &to, "Your code: 123456");
                    started.route.send(&message).await.unwrap();
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let elapsed = begin.elapsed();
    let total = tasks * each;
    let rate = total as f64 / elapsed.as_secs_f64();
    println!("{total} submit_sm on one bind, window 10: {elapsed:?}, {rate:.0} SMS/s");
    let stats = smsc.stats().await;
    assert_eq!(stats["accepted"], json!(total));
    assert!(stats["outstanding_max"].as_u64() <= Some(10), "{stats}");
}

#[tokio::test]
async fn a_transmitter_and_receiver_pair_gets_its_receipts_on_the_receiver() {
    let Some(smsc) = Smsc::start_with(SYSTEM_ID, PASSWORD, &["--receipts", "other"]).await else {
        return;
    };
    let mut started = start(&smsc, "bind = \"transmitter-receiver\"\n").await;
    smsc.wait_stats("two binds", |stats| {
        stats["bound"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    let to = phone();
    let accepted = started.route.send(&text(1, &to, "paired")).await.unwrap();
    let report = next_report(&mut started.reports).await;
    assert_eq!(report.provider_id, accepted.parts[0]);
    assert_eq!(report.outcome, ReportOutcome::Delivered);
    let answered = |messages: &[Value]| messages[0]["parts"][0]["receipt"]["state"] == "answered";
    let messages = smsc.wait_messages("the receipt answered", answered).await;
    let part = &messages[0]["parts"][0];
    assert_ne!(
        part["receipt"]["bind"], part["bind"],
        "the receipt came on the other bind"
    );
}
