//! Sign-ins and sessions: sessions that expire, pauses after wrong passwords, unlock codes.

use crate::fixtures::*;
use sceau_store::{
    Medium, NewMessage, NewSession, SignInAttempt, SignInVerdict, UnlockCodeSend, UnlockInput,
    UnlockOutcome, UnlockState,
};

#[tokio::test]
async fn sessions_live_until_they_expire_or_are_deleted() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let bob = f.client(0, 0).await;
        let (token, other) = (bytes32(TOKEN_TAG, 1), bytes32(TOKEN_TAG, 2));
        let session = |token_hash, client_id| NewSession {
            token_hash,
            client_id,
            now_s: NOW,
            expires_at_s: NOW + 100,
        };
        f.store
            .create_session(session(token, alice.id))
            .await
            .unwrap();
        f.store
            .create_session(session(other, bob.id))
            .await
            .unwrap();

        let checks = [
            (token, NOW, Some(alice.id)),
            (token, NOW + 99, Some(alice.id)),
            (token, NOW + 100, None),
            (other, NOW, Some(bob.id)),
            (bytes32(TOKEN_TAG, 3), NOW, None),
        ];
        for (token_hash, now_s, expected) in checks {
            assert_eq!(
                f.store
                    .session_client(token_hash, now_s)
                    .await
                    .unwrap()
                    .map(|client| client.id),
                expected,
                "{}: at {now_s}",
                f.name
            );
        }
        f.store.delete_session(token).await.unwrap();
        assert!(f.store.session_client(token, NOW).await.unwrap().is_none());
        assert_eq!(
            f.store
                .session_client(other, NOW)
                .await
                .unwrap()
                .map(|client| client.id),
            Some(bob.id),
            "only that session"
        );
        f.store.delete_session(token).await.unwrap();
    })
    .await;
}

/// Ten wrong passwords in a row pause sign-in for a while; a success resets the count;
/// during the pause even the right password is refused, and not counted.
#[tokio::test]
async fn wrong_passwords_lock_sign_in_for_a_while() {
    use sceau_domain::limits::{SIGN_IN_FAILURES_MAX, SIGN_IN_LOCK_S};
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let attempt = async |right: bool, now_s: i64| {
            f.store
                .record_sign_in(SignInAttempt {
                    client_id: alice.id,
                    password_right: right,
                    unlock: None,
                    now_s,
                })
                .await
                .unwrap()
                .expect("a known client")
        };
        for _ in 1..SIGN_IN_FAILURES_MAX {
            assert!(matches!(attempt(false, NOW).await, SignInVerdict::Wrong(f) if f.locked_until_s.is_none()));
        }
        assert_eq!(attempt(true, NOW).await, SignInVerdict::Accepted);
        for number in 1..=SIGN_IN_FAILURES_MAX {
            let SignInVerdict::Wrong(failure) = attempt(false, NOW + 1).await else {
                panic!("{}: attempt {number} is a wrong password", f.name);
            };
            let expected = (number == SIGN_IN_FAILURES_MAX).then_some(NOW + 1 + SIGN_IN_LOCK_S);
            assert_eq!(failure.locked_until_s, expected, "{}: attempt {number}", f.name);
        }
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.sign_in_locked_until_s, NOW + 1 + SIGN_IN_LOCK_S, "{}", f.name);
        assert_eq!(attempt(true, NOW + 2).await, SignInVerdict::Paused, "{}", f.name);
        assert_eq!(attempt(false, NOW + 2).await, SignInVerdict::Paused, "{}", f.name);
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.sign_in_locked_until_s, NOW + 1 + SIGN_IN_LOCK_S, "not counted");
        assert_eq!(attempt(true, NOW + 1 + SIGN_IN_LOCK_S).await, SignInVerdict::Accepted);
        assert_eq!(
            f.store
                .record_sign_in(SignInAttempt {
                    client_id: i64::MAX,
                    password_right: false,
                    unlock: None,
                    now_s: NOW,
                })
                .await
                .unwrap(),
            None,
            "unknown client"
        );
    })
    .await;
}

/// Attempts sent at once are judged one after the other: once ten wrong ones paused the
/// account, the right password sent with them is refused.
#[tokio::test]
async fn sign_in_attempts_at_once_meet_the_pause_they_start() {
    use sceau_domain::limits::SIGN_IN_FAILURES_MAX;
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let store = f.store.clone();
        let mut attempts = Vec::new();
        for index in 0..3 * SIGN_IN_FAILURES_MAX {
            let store = store.clone();
            let right = index == 2 * SIGN_IN_FAILURES_MAX;
            attempts.push(tokio::spawn(async move {
                store
                    .record_sign_in(SignInAttempt {
                        client_id: alice.id,
                        password_right: right,
                        unlock: None,
                        now_s: NOW,
                    })
                    .await
                    .unwrap()
                    .unwrap()
            }));
        }
        let mut verdicts = Vec::new();
        for attempt in attempts {
            verdicts.push(attempt.await.unwrap());
        }
        let wrong = verdicts
            .iter()
            .filter(|v| matches!(v, SignInVerdict::Wrong(_)))
            .count();
        let accepted = verdicts
            .iter()
            .filter(|v| **v == SignInVerdict::Accepted)
            .count();
        // However they were ordered: at most ten wrong ones were counted before a pause
        // or a success, and the right one signs in only if it came before the pause.
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        if accepted == 1 {
            assert!(
                wrong < 2 * SIGN_IN_FAILURES_MAX as usize,
                "{}: {verdicts:?}",
                f.name
            );
        } else {
            assert!(record.sign_in_paused(NOW), "{}: {verdicts:?}", f.name);
            assert_eq!(
                wrong, SIGN_IN_FAILURES_MAX as usize,
                "{}: {verdicts:?}",
                f.name
            );
        }
        assert_eq!(
            wrong
                + accepted
                + verdicts
                    .iter()
                    .filter(|v| **v == SignInVerdict::Paused)
                    .count(),
            verdicts.len()
        );
    })
    .await;
}

/// Pauses in a row grow; an unlock code is sent only to a paused account, on condition
/// that its unlock state is still the one read, with its message in the same
/// transaction; a success ends the pauses, the count and the code.
#[tokio::test]
async fn sign_in_pauses_grow_and_unlock_codes_are_sent_on_condition() {
    use sceau_domain::limits::{SIGN_IN_FAILURES_MAX, SIGN_IN_LOCK_S};
    use sceau_domain::sign_in::{UnlockSend, unlock_send};
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let pause = async |at_s: i64| {
            let mut until_s = None;
            for _ in 0..SIGN_IN_FAILURES_MAX {
                let verdict = f
                    .store
                    .record_sign_in(SignInAttempt {
                        client_id: alice.id,
                        password_right: false,
                        unlock: None,
                        now_s: at_s,
                    })
                    .await
                    .unwrap();
                if let Some(SignInVerdict::Wrong(failure)) = verdict {
                    until_s = until_s.or(failure.locked_until_s);
                }
            }
            until_s.expect("a pause")
        };
        assert_eq!(pause(NOW).await, NOW + SIGN_IN_LOCK_S, "{}", f.name);
        let later = NOW + SIGN_IN_LOCK_S;
        assert_eq!(pause(later).await, later + 2 * SIGN_IN_LOCK_S, "{}", f.name);
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert!(record.sign_in_paused(later));
        assert_eq!(record.unlock, UnlockState::default());
        let message = |text: &str| NewMessage {
            address: record.phone.as_str().to_owned(),
            sealed_body: text.as_bytes().to_vec(),
            medium: Medium::Sms,
            expires_at_s: later + 3600,
        };
        let UnlockSend::Send { after, .. } = unlock_send(record.unlock, alice.id, [9; 16], later)
        else {
            panic!("a first code is sent");
        };
        let send = |read: UnlockState, after: UnlockState, now_s: i64| UnlockCodeSend {
            client_id: alice.id,
            read,
            after,
            message: message("code"),
            now_s,
        };
        let messages = async || {
            f.store
                .messages_to(record.phone.as_str(), 100)
                .await
                .unwrap()
                .len()
        };
        let before = messages().await;
        assert_eq!(
            f.store
                .send_unlock_code(send(record.unlock, after, later))
                .await
                .unwrap(),
            UnlockOutcome::Sent,
            "{}",
            f.name
        );
        assert_eq!(
            messages().await,
            before + 1,
            "{}: the code's message",
            f.name
        );
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.unlock, after, "{}: stored as decided", f.name);
        // A decision on the state before that send is refused, and sends nothing.
        assert_eq!(
            f.store
                .send_unlock_code(send(UnlockState::default(), after, later))
                .await
                .unwrap(),
            UnlockOutcome::Changed,
            "{}",
            f.name
        );
        assert_eq!(messages().await, before + 1, "{}", f.name);
        // During the pause: only the right password with the stored code signs in.
        let typed = |password_right, unlock| SignInAttempt {
            client_id: alice.id,
            password_right,
            unlock,
            now_s: later + 1,
        };
        let stranger = after.code.map(|code| UnlockInput {
            nonce: [8; 16],
            ..code
        });
        for (attempt, expected) in [
            (typed(true, None), SignInVerdict::Paused),
            (typed(true, stranger), SignInVerdict::Paused),
            (typed(false, after.code), SignInVerdict::Paused),
            (typed(true, after.code), SignInVerdict::Accepted),
        ] {
            assert_eq!(
                f.store.record_sign_in(attempt).await.unwrap(),
                Some(expected),
                "{}: {attempt:?}",
                f.name
            );
        }
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert!(!record.sign_in_paused(later + 1), "{}: lifted", f.name);
        assert_eq!(
            record.unlock,
            UnlockState::default(),
            "{}: code and sends end",
            f.name
        );
        // Once the pause is over, nothing is sent.
        let over = later + 2 * SIGN_IN_LOCK_S;
        assert_eq!(
            f.store
                .send_unlock_code(send(after, after, over))
                .await
                .unwrap(),
            UnlockOutcome::NotPaused,
            "{}",
            f.name
        );
        // A success ends it all: the next pause is the first again.
        let success = SignInAttempt {
            client_id: alice.id,
            password_right: true,
            unlock: None,
            now_s: over,
        };
        assert_eq!(
            f.store.record_sign_in(success).await.unwrap(),
            Some(SignInVerdict::Accepted)
        );
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.unlock.code, None, "{}", f.name);
        assert_eq!(record.sign_in_locked_until_s, 0, "{}", f.name);
        assert_eq!(pause(over).await, over + SIGN_IN_LOCK_S, "{}", f.name);
        assert_eq!(
            f.store
                .send_unlock_code(UnlockCodeSend {
                    client_id: i64::MAX,
                    ..send(UnlockState::default(), after, over)
                })
                .await
                .unwrap(),
            UnlockOutcome::NotPaused,
            "unknown client"
        );
    })
    .await;
}
