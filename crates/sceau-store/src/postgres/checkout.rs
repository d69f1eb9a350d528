//! Checkouts paid with a seal, and the webhooks that tell merchants, on PostgreSQL (the
//! operations are `ops::checkouts` and `ops::webhooks`): each step runs in a lane's
//! batch, after the batch has locked the accounts its `Guard` names; a step that finds
//! its checkout changed by another batch fails and reruns on what is stored now.

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Checkouts;
use crate::model::*;
use crate::ops::checkouts as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Checkouts for PostgresStore {
    async fn create_checkout(
        &self,
        checkout: NewCheckout,
    ) -> Result<(CheckoutView, bool), StoreError> {
        self.write(Guard::Nothing, checkout, |c, checkout, locked| {
            async move { ops::create(&PgTx::new(c, locked), checkout).await }.boxed()
        })
        .await
    }

    async fn checkout(&self, public_id: &str) -> Result<Option<CheckoutView>, StoreError> {
        self.read(async |c| ops::checkout(&PgTx::reader(c), public_id).await)
            .await
    }

    async fn hold_checkout(&self, hold: HoldCheckout) -> Result<HoldOutcome, StoreError> {
        self.write(Guard::Client(hold.client_id), hold, |c, hold, locked| {
            async move { ops::hold(&PgTx::new(c, locked), hold).await }.boxed()
        })
        .await
    }

    async fn send_seal(&self, send: SendSeal) -> Result<SendOutcome, StoreError> {
        self.write(Guard::Client(send.client_id), send, |c, send, locked| {
            async move { ops::send_seal(&PgTx::new(c, locked), send).await }.boxed()
        })
        .await
    }

    async fn type_seal(&self, typed: TypedSeal) -> Result<SealOutcome, StoreError> {
        let guard = Guard::CheckoutHold(typed.public_id.clone());
        self.write(guard, typed, |c, typed, locked| {
            async move { ops::type_seal(&PgTx::new(c, locked), typed).await }.boxed()
        })
        .await
    }

    async fn cancel_checkout(&self, cancel: CancelCheckout) -> Result<CancelOutcome, StoreError> {
        // The hold's two accounts, as a typed seal's: canceling releases the hold.
        let guard = Guard::CheckoutHold(cancel.public_id.clone());
        self.write(guard, cancel, |c, cancel, locked| {
            async move { ops::cancel(&PgTx::new(c, locked), cancel).await }.boxed()
        })
        .await
    }
}
