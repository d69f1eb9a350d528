//! The use cases of a payment by seal (Figures 1–3): a merchant's checkout, the client's
//! sign-in and hold, the seal sent to the phone and typed back.

use crate::clock::clock_time;
use crate::error::{AppError, internal};
use crate::service::{Service, parse_amount, parse_currency};
use crate::webhooks::is_public;
use sceau_domain::seal::{SEAL_NONCE_LEN, Seal, SealInput};
use sceau_domain::text::{self, unprintable};
use sceau_domain::{Currency, Money};
use sceau_store::*;
use std::net::IpAddr;
use std::sync::Arc;
use url::{Host, Url};
use zeroize::Zeroizing;

/// Longest return or webhook address accepted.
pub const URL_LEN_MAX: usize = 2_048;
/// Shortest and longest life a merchant may give a checkout.
pub const CHECKOUT_VALIDITY_S_MIN: i64 = 60;
pub const CHECKOUT_VALIDITY_S_MAX: i64 = 60 * 60;
/// Bytes of randomness in a checkout's public identifier.
const PUBLIC_ID_BYTES: usize = 16;

/// What a merchant sends to start a checkout.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub amount: String,
    pub currency: String,
    pub reference: String,
    pub object: String,
    pub return_url: String,
    pub webhook_url: Option<String>,
    pub validity_s: Option<i64>,
}

/// What typing a seal did, for the page to say.
pub enum SealResult {
    Paid(CheckoutView),
    Wrong { tries_left: u32 },
    Failed(CheckoutView),
    Expired,
}

/// An address sceau sends the client or its webhooks to: `https://`, or `http://` only
/// to this machine (a shop under development); no user name, password or fragment, no
/// spaces, quotes or angle brackets. Unless `local` is allowed, an address naming this
/// machine or a private network (`localhost`, 10.0.0.1, [::1]…) is refused: sceau would
/// otherwise send its webhooks into the operator's own network. The host is judged as
/// browsers and the webhook sender read it (the WHATWG URL parser): `127.1`,
/// `0x7f.0.0.1`, `2130706433` and `127.0.0.1.` are all 127.0.0.1, `LOCALHOST.` is
/// `localhost`.
pub fn check_url(field: &'static str, url: &str, local: bool) -> Result<(), AppError> {
    let refuse = || {
        AppError::InvalidUrl(format!(
            "{field} must be an https:// address (http:// only for localhost), at most {URL_LEN_MAX} characters"
        ))
    };
    if url.len() > URL_LEN_MAX
        || url.chars().any(|c| {
            unprintable(c) || c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '#')
        })
    {
        return Err(refuse());
    }
    let parsed = Url::parse(url).map_err(|_| refuse())?;
    let secure = match parsed.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(refuse()),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.fragment().is_some() {
        return Err(refuse());
    }
    let (this_machine, private) = match parsed.host().ok_or_else(refuse)? {
        Host::Domain(name) => {
            let name = name.to_ascii_lowercase();
            let name = name.trim_end_matches('.');
            let this_machine = name == "localhost" || name.ends_with(".localhost");
            (this_machine, this_machine)
        }
        Host::Ipv4(ip) => (ip.is_loopback(), !is_public(IpAddr::V4(ip))),
        Host::Ipv6(ip) => (
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|ip| ip.is_loopback()),
            !is_public(IpAddr::V6(ip)),
        ),
    };
    if (!secure && !this_machine) || (private && !local) {
        return Err(refuse());
    }
    Ok(())
}

impl Service {
    pub async fn create_checkout(
        &self,
        merchant: &MerchantRecord,
        request: CheckoutRequest,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<(CheckoutView, bool), AppError> {
        let currency = parse_currency(&request.currency)?;
        let amount = parse_amount(&request.amount, currency)?;
        AppError::check_text(
            "reference",
            AppError::InvalidField,
            &request.reference,
            text::REFERENCE,
        )?;
        AppError::check_text(
            "object",
            AppError::InvalidField,
            &request.object,
            text::OBJECT,
        )?;
        let local = self.settings.webhooks_to_private_networks;
        check_url("return_url", &request.return_url, local)?;
        if let Some(webhook_url) = &request.webhook_url {
            check_url("webhook_url", webhook_url, local)?;
        }
        let validity_s = request
            .validity_s
            .unwrap_or(self.settings.checkout_validity_s);
        if !(CHECKOUT_VALIDITY_S_MIN..=CHECKOUT_VALIDITY_S_MAX).contains(&validity_s) {
            return Err(AppError::InvalidValidity(format!(
                "validity must be {CHECKOUT_VALIDITY_S_MIN} to {CHECKOUT_VALIDITY_S_MAX} seconds"
            )));
        }
        let now_s = self.now_s();
        let public_id = format!(
            "co_{}",
            hex::encode(sceau_crypto::random_bytes::<PUBLIC_ID_BYTES>())
        );
        let (view, replayed) = self
            .store
            .create_checkout(NewCheckout {
                merchant_id: merchant.id,
                public_id,
                amount: amount.minor,
                currency,
                merchant_reference: request.reference,
                object: request.object,
                return_url: request.return_url,
                webhook_url: request.webhook_url,
                expires_at_s: now_s + validity_s,
                idempotency,
                now_s,
            })
            .await?;
        if !replayed {
            tracing::info!(
                checkout_id = view.id,
                merchant_id = merchant.id,
                "checkout created"
            );
        }
        Ok((view, replayed))
    }

    /// A checkout as its merchant may see it: another merchant's is "not found".
    pub async fn merchant_checkout(
        &self,
        merchant: &MerchantRecord,
        public_id: &str,
    ) -> Result<CheckoutView, AppError> {
        match self.store.checkout(public_id).await? {
            Some(view) if view.merchant_id == merchant.id => Ok(view),
            _ => Err(AppError::CheckoutNotFound),
        }
    }

    /// A checkout as its client may see it: another client's, or none, is "not found".
    pub async fn client_checkout(
        &self,
        client: &ClientRecord,
        public_id: &str,
    ) -> Result<CheckoutView, AppError> {
        match self.checkout(public_id).await {
            Ok(view) if view.client_id == Some(client.id) => Ok(view),
            Ok(_) | Err(AppError::Checkout(CheckoutRefusal::NotFound)) => {
                Err(AppError::PaymentNotFound)
            }
            Err(error) => Err(error),
        }
    }

    pub async fn checkout(&self, public_id: &str) -> Result<CheckoutView, AppError> {
        self.store
            .checkout(public_id)
            .await?
            .ok_or(AppError::Checkout(CheckoutRefusal::NotFound))
    }

    /// The client signed in on the payment page: hold the amount on their account with a
    /// single-use number drawn for this payment (zone 25 of the check).
    pub async fn hold_checkout(
        &self,
        public_id: &str,
        client: &ClientRecord,
    ) -> Result<CheckoutView, AppError> {
        let checkout = self.checkout(public_id).await?;
        let now_s = self.now_s();
        let drawn = self.draw_number(checkout.expires_at_s);
        let hold = HoldCheckout {
            checkout_id: checkout.id,
            client_id: client.id,
            number_fingerprint: drawn.fingerprint,
            details_fingerprint: drawn.details_fingerprint,
            last_four: drawn.number.last_four(),
            expiry: drawn.expiry,
            held_max: i64::from(self.settings.client_held_checkouts_max),
            now_s,
        };
        match self.store.hold_checkout(hold).await? {
            HoldOutcome::Held(view) => {
                tracing::info!(
                    checkout_id = view.id,
                    client_id = client.id,
                    "checkout held"
                );
                Ok(*view)
            }
            HoldOutcome::Declined(decline) => {
                tracing::info!(
                    checkout_id = checkout.id,
                    code = decline.code(),
                    "checkout declined"
                );
                Err(AppError::Declined(decline))
            }
            HoldOutcome::Refused(refusal) => Err(AppError::Checkout(refusal)),
        }
    }

    /// "Validate payment and sign": derives a seal from the transaction and sends it with
    /// the amount and the merchant to the client's phone. Also used to send a new one.
    pub async fn send_seal(
        &self,
        public_id: &str,
        client: &ClientRecord,
    ) -> Result<CheckoutView, AppError> {
        let view = self.checkout(public_id).await?;
        if view.client_id != Some(client.id) {
            return Err(AppError::Checkout(CheckoutRefusal::OtherClient));
        }
        let now_s = self.now_s();
        let nonce = sceau_crypto::random_bytes::<SEAL_NONCE_LEN>();
        let input = seal_input(&view, nonce, now_s)?;
        let digits = self.settings.seal_digits;
        let seal = self.keys.payment_seal(&input, digits);
        let expires_at_s = (now_s + self.settings.seal_validity_s).min(view.expires_at_s);
        let text = self.seal_text(&view, &seal, expires_at_s)?;
        let send = SendSeal {
            checkout_id: view.id,
            client_id: client.id,
            seal: StoredSeal {
                nonce,
                digits: digits.get(),
                issued_at_s: now_s,
                expires_at_s,
            },
            message: NewMessage {
                address: client.phone.as_str().to_owned(),
                sealed_body: self.keys.seal(&text, client.phone.as_str()),
                medium: client.phone_medium(),
                expires_at_s,
            },
            budget: self.settings.message_budget(),
            now_s,
        };
        match self.store.send_seal(send).await? {
            SendOutcome::Sent(view) => {
                self.outbox_ready.notify_one();
                tracing::info!(checkout_id = view.id, sends = view.seal_sends, "seal sent");
                Ok(*view)
            }
            SendOutcome::Refused(refusal) => Err(AppError::Checkout(refusal)),
        }
    }

    /// The SMS: what the seal is for (amount and payee, dynamic linking), the seal, and
    /// until when it may be typed; then, last and between quotation marks (it may hold
    /// none), the merchant's own words for what is bought. Nothing the merchant wrote
    /// comes before the seal, so it cannot pass for sceau's words.
    fn seal_text(
        &self,
        view: &CheckoutView,
        seal: &Seal,
        expires_at_s: i64,
    ) -> Result<Zeroizing<String>, AppError> {
        let currency: Currency = view
            .currency
            .parse()
            .map_err(|_| internal("checkout currency"))?;
        let amount = Money::new(view.amount, currency);
        Ok(Zeroizing::new(format!(
            "{issuer}: to pay {amount} to {merchant}, your seal is {digits}. Valid until {until}. \
             Type it only on the {issuer} payment page; nobody will ever ask you for it. \
             {merchant} describes the purchase as \"{object}\".",
            issuer = self.settings.issuer_name,
            merchant = view.merchant_name,
            object = view.object,
            digits = seal.digits(),
            until = clock_time(expires_at_s),
        )))
    }

    /// "Cancel this payment": the client refuses to pay a checkout open or held for them.
    /// The hold is released at once, the checkout ends canceled (evidence and webhook
    /// with it) and any seal sent for it is dead.
    pub async fn cancel_checkout(
        &self,
        public_id: &str,
        client: &ClientRecord,
    ) -> Result<CheckoutView, AppError> {
        let cancel = CancelCheckout {
            public_id: public_id.to_owned(),
            client_id: client.id,
            now_s: self.now_s(),
        };
        match self.store.cancel_checkout(cancel).await? {
            CancelOutcome::Canceled(view) => {
                self.webhooks_ready.notify_one();
                tracing::info!(
                    checkout_id = view.id,
                    client_id = client.id,
                    "checkout canceled by its client"
                );
                Ok(*view)
            }
            CancelOutcome::Refused(refusal) => Err(AppError::Checkout(refusal)),
        }
    }

    /// The client typed a seal on the checkout's page, in the session `session_token_hash`.
    /// One write: the store finds the session's client and the checkout, and checks the
    /// seal against the live one in the same transaction (see [`TypedSeal`]).
    pub async fn type_seal(
        &self,
        public_id: &str,
        session_token_hash: [u8; 32],
        typed: &str,
    ) -> Result<SealResult, AppError> {
        // Anything that is not 6 to 10 digits is a wrong seal like any other: counted.
        let typed: Option<Seal> = typed.parse().ok();
        let keys = Arc::clone(&self.keys);
        let check: SealCheck = Box::new(move |view, stored| {
            let Some(typed) = &typed else {
                return false;
            };
            let (Ok(input), Ok(digits)) = (
                seal_input(view, stored.nonce, stored.issued_at_s),
                sceau_domain::seal::SealDigits::new(stored.digits),
            ) else {
                return false;
            };
            keys.seal_matches(&input, digits, typed)
        });
        let outcome = self
            .store
            .type_seal(TypedSeal {
                public_id: public_id.to_owned(),
                session_token_hash,
                check,
                now_s: self.now_s(),
            })
            .await?;
        match outcome {
            SealOutcome::Paid(view, record) => {
                crate::metrics::seal_verdict("checkout", "right");
                self.webhooks_ready.notify_one();
                tracing::info!(checkout_id = view.id, "checkout paid");
                self.receipt_for_payment(&view, *record).await;
                Ok(SealResult::Paid(view))
            }
            SealOutcome::Wrong { tries_left, paused } => {
                crate::metrics::seal_verdict("checkout", "wrong");
                tracing::info!(checkout = public_id, tries_left, "wrong seal");
                if let Some(paused) = paused {
                    self.tell_paused(paused).await;
                }
                Ok(SealResult::Wrong { tries_left })
            }
            SealOutcome::Failed { view, paused } => {
                crate::metrics::seal_verdict("checkout", "wrong");
                self.webhooks_ready.notify_one();
                tracing::info!(checkout_id = view.id, "checkout failed: wrong seals");
                if let Some(paused) = paused {
                    self.tell_paused(paused).await;
                }
                Ok(SealResult::Failed(view))
            }
            SealOutcome::Expired => {
                crate::metrics::seal_verdict("checkout", "expired");
                Ok(SealResult::Expired)
            }
            SealOutcome::Refused(refusal) => Err(AppError::Checkout(refusal)),
        }
    }
}

/// What a checkout's seal is derived from, with a given nonce and time.
fn seal_input(
    view: &CheckoutView,
    nonce: [u8; SEAL_NONCE_LEN],
    issued_at_s: i64,
) -> Result<SealInput, AppError> {
    let (Some(client_id), Some(payee_account_id)) = (view.client_id, view.payee_account_id) else {
        return Err(AppError::Checkout(CheckoutRefusal::WrongState));
    };
    let currency: Currency = view
        .currency
        .parse()
        .map_err(|_| internal("checkout currency"))?;
    Ok(SealInput {
        checkout_id: view.id,
        amount_minor: view.amount,
        currency,
        merchant_id: view.merchant_id,
        payee_account_id,
        client_id,
        check_time_s: view.created_at_s,
        issued_at_s,
        nonce,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn return_and_webhook_addresses_are_https_or_local() {
        let check = |url: &str, accepted: bool| {
            assert_eq!(check_url("url", url, true).is_ok(), accepted, "{url}");
        };
        check("https://shop.example/return?cart=1", true);
        check("https://shop.example:8443/hooks", true);
        check("http://127.0.0.1:8080/return", true);
        check("http://localhost/return", true);
        check("http://[::1]:9000/hooks", true);
        check("http://shop.example/return", false);
        check("ftp://shop.example/", false);
        check("javascript:alert(1)", false);
        check("https://", false);
        check("https://user:pw@shop.example/", false);
        check("https://shop.example/a b", false);
        check("https://shop.example/\"><script>", false);
        check("https://shop.example/return#top", false);
        check("https://shop.example/\u{202e}gpj.exe", false);
        check("HTTPS://Shop.Example/return", true);
        check("http://LOCALHOST:8080/return", true);
        check("http://127.1:8080/return", true);
        check("http://0x7f.0.0.1/return", true);
        check("http://localhost./return", true);
        check("http://shop.example./return", false);
        check("http://2130706433.example/return", false);
        check("https://shop.example@127.0.0.1/", false);
        check("https://:pw@shop.example/", false);
        check("https://256.0.0.1/", false);
        check("https://[::1/", false);
        check(
            &format!("https://shop.example/{}", "a".repeat(URL_LEN_MAX)),
            false,
        );
    }

    #[test]
    fn addresses_in_private_networks_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hooks",
            "http://localhost/hooks",
            "https://10.0.0.1/hooks",
            "https://169.254.169.254/latest",
            "https://[::1]:6379/",
            "https://[fd00::1]/",
            "https://192.168.1.10/",
            "https://shop.localhost/",
            // This machine and private networks by other names: the host is parsed as
            // browsers and the webhook sender parse it, then judged.
            "https://127.1/",
            "https://0x7f.0.0.1/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://127.0.0.1./",
            "https://LOCALHOST/",
            "https://localhost./",
            "https://Shop.LocalHost./",
            "https://\u{ff4c}\u{ff4f}\u{ff43}\u{ff41}\u{ff4c}\u{ff48}\u{ff4f}\u{ff53}\u{ff54}/",
            "https://[::ffff:127.0.0.1]/",
            "https://[0:0:0:0:0:ffff:7f00:1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://0x0a.0.0.1/",
            "https://10.1/",
            "https://0/",
            "https://[::]/",
            "https://0xa9.0xfe.0xa9.0xfe/latest",
        ] {
            assert!(check_url("url", url, false).is_err(), "{url}");
        }
        assert!(check_url("url", "https://shop.example/hooks", false).is_ok());
        assert!(check_url("url", "https://93.184.215.14/hooks", false).is_ok());
        assert!(check_url("url", "https://Shop.Example./hooks", false).is_ok());
        assert!(check_url("url", "https://0x5d.0xb8.0xd7.0x0e/hooks", false).is_ok());
        assert!(check_url("url", "https://localhost.example/hooks", false).is_ok());
        assert!(check_url("url", "http://127.0.0.1:8080/hooks", true).is_ok());
    }
}
