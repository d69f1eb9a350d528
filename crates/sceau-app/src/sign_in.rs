//! Password sign-in, its pauses after wrong passwords, and the unlock code by which the
//! holder lifts a pause from their own phone (the rules: `sceau_domain::sign_in`).

use crate::clock::clock_time;
use crate::error::{AppError, internal};
use crate::service::Service;
use sceau_domain::seal::Seal;
use sceau_domain::sign_in::{UNLOCK_NONCE_LEN, UnlockSend, unlock_send};
use sceau_store::*;
use zeroize::Zeroizing;

/// Password checks (Argon2id) running at once; more wait their turn.
const PASSWORD_CHECKS_MAX: usize = 4;
/// Reads of an account's unlock state before a send gives up (another send raced it).
const UNLOCK_SEND_TRIES_MAX: usize = 3;

impl Service {
    /// Starts a session of `ttl_s` seconds for a client who just signed in: its token,
    /// given once (only its hash is stored).
    pub async fn start_session(
        &self,
        client: &ClientRecord,
        ttl_s: i64,
    ) -> Result<Zeroizing<String>, AppError> {
        let token = sceau_crypto::new_token("");
        let now_s = self.now_s();
        self.store
            .create_session(NewSession {
                token_hash: sceau_crypto::token_hash(&token),
                client_id: client.id,
                now_s,
                expires_at_s: now_s + ttl_s,
            })
            .await?;
        tracing::info!(client_id = client.id, "signed in");
        Ok(token)
    }

    /// The client of a live session, by the hash of its token.
    pub async fn session_client(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<ClientRecord>, AppError> {
        Ok(self.store.session_client(token_hash, self.now_s()).await?)
    }

    /// Ends a session (signing out).
    pub async fn end_session(&self, token_hash: [u8; 32]) -> Result<(), AppError> {
        Ok(self.store.delete_session(token_hash).await?)
    }

    /// Password sign-in. Always runs one Argon2 verification and one store write, so that
    /// an unknown login takes as long as a known one. While the account's sign-in is
    /// paused, only the right password with the live unlock code sent to its phone signs
    /// in; every other attempt answers as a wrong password and is not counted.
    pub async fn sign_in(
        &self,
        login: &str,
        password: Zeroizing<String>,
        unlock_code: Option<&str>,
    ) -> Result<Option<ClientRecord>, AppError> {
        let client = self.store.client_by_login(login).await?;
        let phc = match &client {
            Some(client) => client.password_hash.clone(),
            None => dummy_hash().await?,
        };
        let matches = check_password(password, phc).await?;
        let now_s = self.now_s();
        // The store judges the attempt under the account's lock, on the account as it is
        // then: attempts sent at once are judged one after the other, the pause that one
        // of them starts included. An unknown login goes through the same write.
        let unlock = client
            .as_ref()
            .and_then(|client| self.typed_unlock_code(client, unlock_code));
        let attempt = SignInAttempt {
            client_id: client.as_ref().map_or(0, |client| client.id),
            password_right: matches,
            unlock,
            now_s,
        };
        let verdict = self.store.record_sign_in(attempt).await?;
        let Some(client) = client else {
            return Ok(None);
        };
        match verdict {
            Some(SignInVerdict::Accepted) => {
                if unlock.is_some() && client.sign_in_paused(now_s) {
                    tracing::info!(
                        client_id = client.id,
                        "sign-in pause lifted by its unlock code"
                    );
                }
                Ok(Some(client))
            }
            Some(SignInVerdict::Wrong(failure)) => {
                if let Some(until_s) = failure.locked_until_s {
                    tracing::info!(
                        client_id = client.id,
                        until_s,
                        "sign-in paused after consecutive wrong passwords"
                    );
                }
                Ok(None)
            }
            Some(SignInVerdict::Paused) => {
                tracing::info!(client_id = client.id, "sign-in refused: paused");
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// The unlock code `typed`, if it is the client's code as read (the store checks that
    /// it is still the stored one, and live).
    fn typed_unlock_code(
        &self,
        client: &ClientRecord,
        typed: Option<&str>,
    ) -> Option<sceau_domain::sign_in::UnlockInput> {
        let typed = typed?.parse::<Seal>().ok()?;
        let code = client.unlock.code?;
        (code.client_id == client.id && self.keys.unlock_code_matches(&code, &typed))
            .then_some(code)
    }

    /// Sends the unlock code of `login`'s paused sign-in to its phone. Says nothing of
    /// the outcome: the login may not exist, or not be paused, or have had its codes of
    /// the hour (the last one sent may still be typed); the caller answers alike.
    pub async fn send_unlock_code(&self, login: &str) -> Result<(), AppError> {
        for _ in 0..UNLOCK_SEND_TRIES_MAX {
            let Some(client) = self.store.client_by_login(login).await? else {
                return Ok(());
            };
            let now_s = self.now_s();
            if !client.sign_in_paused(now_s) {
                return Ok(());
            }
            let nonce: [u8; UNLOCK_NONCE_LEN] = sceau_crypto::random_bytes();
            let UnlockSend::Send { code, after } =
                unlock_send(client.unlock, client.id, nonce, now_s)
            else {
                tracing::info!(
                    client_id = client.id,
                    "unlock code not sent: enough this hour"
                );
                return Ok(());
            };
            let text = Zeroizing::new(format!(
                "{issuer}: your sign-in is paused after wrong passwords. To sign in now, type \
                 this code with your password: {code}, until {until}. If you did not ask, \
                 someone is trying your login: keep your password and this code to yourself.",
                issuer = self.settings.issuer_name,
                code = self.keys.unlock_code(&code).digits(),
                until =
                    clock_time(code.issued_at_s + sceau_domain::sign_in::UNLOCK_CODE_VALIDITY_S),
            ));
            let send = UnlockCodeSend {
                client_id: client.id,
                read: client.unlock,
                after,
                message: NewMessage {
                    address: client.phone.as_str().to_owned(),
                    sealed_body: self.keys.seal(&text, client.phone.as_str()),
                    medium: client.phone_medium(),
                    expires_at_s: code.issued_at_s + sceau_domain::sign_in::UNLOCK_CODE_VALIDITY_S,
                },
                now_s,
            };
            match self.store.send_unlock_code(send).await? {
                UnlockOutcome::Sent => {
                    self.outbox_ready.notify_one();
                    tracing::info!(client_id = client.id, "unlock code sent");
                    return Ok(());
                }
                UnlockOutcome::NotPaused => return Ok(()),
                UnlockOutcome::Changed => continue,
            }
        }
        tracing::info!("unlock code not sent: its account changed under every try");
        Ok(())
    }
}

/// Whether `password` is the one hashed in `phc`, checked on a blocking thread.
/// A password hash no password matches, made once (Argon2id, on a blocking thread), for
/// an unknown login: checking a password against it takes as long as against a real one.
/// If it cannot be made, sign-in fails rather than answering unknown logins at once.
pub(crate) async fn dummy_hash() -> Result<String, AppError> {
    static DUMMY_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY_HASH
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| sceau_crypto::hash_password("not a password"))
                .await
                .map_err(|_| internal("password hashing task failed"))?
                .map_err(|_| internal("password hashing failed"))
        })
        .await
        .cloned()
}

pub(crate) async fn check_password(
    password: Zeroizing<String>,
    phc: String,
) -> Result<bool, AppError> {
    // Each check takes ~19 MiB and a core for a while: at most a few at once, so that
    // a flood of sign-ins queues instead of exhausting memory.
    static PASSWORD_CHECKS: tokio::sync::Semaphore =
        tokio::sync::Semaphore::const_new(PASSWORD_CHECKS_MAX);
    let permit = PASSWORD_CHECKS
        .acquire()
        .await
        .map_err(|_| internal("password checks closed"))?;
    let matches =
        tokio::task::spawn_blocking(move || sceau_crypto::verify_password(&password, &phc))
            .await
            .map_err(|_| internal("password check task failed"))?;
    drop(permit);
    Ok(matches)
}
