//! Checkouts paid with a seal, and the webhooks that tell merchants, on SQLite (the
//! operations are `ops::checkouts` and `ops::webhooks`): each step is one command on
//! the writer, which holds the whole database.

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Checkouts;
use crate::model::*;
use crate::ops::checkouts as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Checkouts for SqliteStore {
    async fn create_checkout(
        &self,
        checkout: NewCheckout,
    ) -> Result<(CheckoutView, bool), StoreError> {
        self.write(move |c| run_now(ops::create(&SqliteTx(c), &checkout)))
            .await
    }

    async fn checkout(&self, public_id: &str) -> Result<Option<CheckoutView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read_quick(move |c| run_now(ops::checkout(&SqliteTx(c), &public_id)))
            .await
    }

    async fn hold_checkout(&self, hold: HoldCheckout) -> Result<HoldOutcome, StoreError> {
        self.write(move |c| run_now(ops::hold(&SqliteTx(c), &hold)))
            .await
    }

    async fn send_seal(&self, send: SendSeal) -> Result<SendOutcome, StoreError> {
        self.write(move |c| run_now(ops::send_seal(&SqliteTx(c), &send)))
            .await
    }

    async fn type_seal(&self, typed: TypedSeal) -> Result<SealOutcome, StoreError> {
        self.write(move |c| run_now(ops::type_seal(&SqliteTx(c), &typed)))
            .await
    }

    async fn cancel_checkout(&self, cancel: CancelCheckout) -> Result<CancelOutcome, StoreError> {
        self.write(move |c| run_now(ops::cancel(&SqliteTx(c), &cancel)))
            .await
    }
}
