//! PostgreSQL schema, versioned like SQLite's: the same tables, the same constraints, in
//! PostgreSQL's types. Migrations run at start under an advisory lock, so that several
//! instances starting at once migrate once; a schema written by a newer binary is refused.

use super::Fail;
use crate::StoreError;
use tokio_postgres::Client;

const MIGRATIONS: &[&str] = &[
    // 1: the foundation — ledger, clients, merchants, numbers, authorizations,
    // idempotency, sessions, outbox.
    r#"
    CREATE TABLE accounts (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('client', 'merchant', 'funding')),
        owner_id BIGINT,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        balance BIGINT NOT NULL DEFAULT 0,
        held BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),
        credit_limit BIGINT NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
        CHECK (kind <> 'client' OR balance - held >= -credit_limit)
    );
    CREATE UNIQUE INDEX accounts_funding ON accounts (currency) WHERE kind = 'funding';
    CREATE UNIQUE INDEX accounts_merchant ON accounts (owner_id, currency) WHERE kind = 'merchant';

    CREATE TABLE transfers (
        id BIGSERIAL PRIMARY KEY,
        debit_account BIGINT NOT NULL REFERENCES accounts (id),
        credit_account BIGINT NOT NULL REFERENCES accounts (id),
        amount BIGINT NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('opening', 'capture', 'refund')),
        authorization_id BIGINT,
        created_at BIGINT NOT NULL,
        CHECK (debit_account <> credit_account)
    );
    CREATE INDEX transfers_authorization ON transfers (authorization_id) WHERE authorization_id IS NOT NULL;

    CREATE TABLE clients (
        id BIGSERIAL PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        phone TEXT NOT NULL UNIQUE,
        account_id BIGINT NOT NULL UNIQUE REFERENCES accounts (id),
        blocked BOOLEAN NOT NULL DEFAULT FALSE,
        consecutive_failures BIGINT NOT NULL DEFAULT 0,
        paused_until BIGINT NOT NULL DEFAULT 0,
        sign_in_failures BIGINT NOT NULL DEFAULT 0,
        sign_in_locked_until BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
    );

    CREATE TABLE merchants (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        api_key_hash BYTEA NOT NULL UNIQUE,
        created_at BIGINT NOT NULL
    );

    CREATE TABLE numbers (
        id BIGSERIAL PRIMARY KEY,
        client_id BIGINT NOT NULL REFERENCES clients (id),
        account_id BIGINT NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        fingerprint BYTEA NOT NULL,
        details_fingerprint BYTEA NOT NULL,
        last_four TEXT NOT NULL,
        expiry_month BIGINT NOT NULL,
        expiry_year BIGINT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('client', 'merchant')),
        uses_max BIGINT NOT NULL CHECK (uses_max >= 1),
        amount_rule TEXT NOT NULL CHECK (amount_rule IN ('any', 'cap', 'exact')),
        amount_limit BIGINT,
        merchant_lock TEXT NOT NULL CHECK (merchant_lock IN ('any', 'named', 'first')),
        merchant_id BIGINT,
        valid_until BIGINT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('live', 'consumed', 'blocked', 'expired')),
        uses_count BIGINT NOT NULL DEFAULT 0,
        amount_used BIGINT NOT NULL DEFAULT 0,
        failed_tries BIGINT NOT NULL DEFAULT 0,
        version BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        CHECK (uses_count <= uses_max),
        CHECK (amount_rule <> 'cap' OR amount_used <= amount_limit)
    );
    CREATE UNIQUE INDEX numbers_live_fingerprint ON numbers (fingerprint) WHERE state = 'live';
    CREATE INDEX numbers_fingerprint ON numbers (fingerprint, id);
    CREATE INDEX numbers_client ON numbers (client_id, id);
    CREATE INDEX numbers_live_validity ON numbers (valid_until) WHERE state = 'live';

    CREATE TABLE authorizations (
        id BIGSERIAL PRIMARY KEY,
        merchant_id BIGINT NOT NULL REFERENCES merchants (id),
        number_id BIGINT NOT NULL REFERENCES numbers (id),
        client_id BIGINT NOT NULL REFERENCES clients (id),
        debit_account BIGINT NOT NULL REFERENCES accounts (id),
        credit_account BIGINT NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount > 0),
        captured BIGINT NOT NULL DEFAULT 0,
        refunded BIGINT NOT NULL DEFAULT 0,
        state TEXT NOT NULL CHECK (state IN ('authorized', 'captured', 'voided', 'expired')),
        merchant_reference TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        hold_expires_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        CHECK (captured >= 0 AND captured <= amount),
        CHECK (refunded >= 0 AND refunded <= captured)
    );
    CREATE INDEX authorizations_pending ON authorizations (hold_expires_at) WHERE state = 'authorized';

    CREATE TABLE idempotency (
        id BIGSERIAL PRIMARY KEY,
        merchant_id BIGINT NOT NULL,
        key TEXT NOT NULL,
        request_hash BYTEA NOT NULL,
        outcome TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX idempotency_key ON idempotency (merchant_id, key);

    CREATE TABLE sessions (
        token_hash BYTEA PRIMARY KEY,
        client_id BIGINT NOT NULL REFERENCES clients (id),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX sessions_expiry ON sessions (expires_at);

    CREATE TABLE messages (
        id BIGSERIAL PRIMARY KEY,
        address TEXT NOT NULL,
        sealed_body BYTEA NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        channel TEXT,
        reference TEXT,
        attempts BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX messages_pending ON messages (id) WHERE state = 'pending';
    CREATE INDEX messages_address ON messages (address, id);
    "#,
    // 2: dispatchers of several instances claim messages before sending them.
    r#"
    ALTER TABLE messages ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
    "#,
    // 3: checkouts paid with a seal (Figures 1-3), and webhooks to merchants. A seal is
    // never stored: only what it is recomputed from (nonce, digits, times).
    r#"
    CREATE TABLE checkouts (
        id BIGSERIAL PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        merchant_id BIGINT NOT NULL REFERENCES merchants (id),
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        amount BIGINT NOT NULL CHECK (amount > 0),
        merchant_reference TEXT NOT NULL,
        object TEXT NOT NULL,
        return_url TEXT NOT NULL,
        webhook_url TEXT,
        state TEXT NOT NULL CHECK (state IN ('open', 'held', 'paid', 'failed', 'expired')),
        failure TEXT,
        client_id BIGINT REFERENCES clients (id),
        authorization_id BIGINT UNIQUE REFERENCES authorizations (id),
        seal_nonce BYTEA CHECK (seal_nonce IS NULL OR length(seal_nonce) = 16),
        seal_digits BIGINT CHECK (seal_digits IS NULL OR seal_digits BETWEEN 6 AND 10),
        seal_issued_at BIGINT,
        seal_expires_at BIGINT,
        seal_wrong_tries BIGINT NOT NULL DEFAULT 0 CHECK (seal_wrong_tries BETWEEN 0 AND 3),
        seal_sends BIGINT NOT NULL DEFAULT 0 CHECK (seal_sends >= 0),
        version BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        CHECK (state IN ('open', 'expired') OR (client_id IS NOT NULL AND authorization_id IS NOT NULL)),
        CHECK (state <> 'paid' OR seal_nonce IS NOT NULL)
    );
    CREATE INDEX checkouts_open ON checkouts (expires_at) WHERE state IN ('open', 'held');

    CREATE TABLE webhooks (
        id BIGSERIAL PRIMARY KEY,
        merchant_id BIGINT NOT NULL REFERENCES merchants (id),
        checkout_id BIGINT REFERENCES checkouts (id),
        url TEXT NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        claimed_until BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX webhooks_due ON webhooks (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX webhooks_checkout ON webhooks (checkout_id);
    "#,
    // 4: clearing. Merchants get the bank details they are paid out to; closing a batch
    // pays each settlement account's balance out with a transfer of kind 'payout'
    // (merchant account to funding account) recorded with the batch, which keeps its
    // settlement file.
    r#"
    ALTER TABLE merchants ADD COLUMN iban TEXT;
    ALTER TABLE merchants ADD COLUMN bic TEXT;
    ALTER TABLE merchants ADD CONSTRAINT merchants_bank_check CHECK ((iban IS NULL) = (bic IS NULL));

    CREATE TABLE clearing_batches (
        id BIGSERIAL PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        payouts_count BIGINT NOT NULL CHECK (payouts_count > 0),
        total BIGINT NOT NULL CHECK (total > 0),
        settlement_file TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );

    ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
    ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check
        CHECK (kind IN ('opening', 'capture', 'refund', 'payout'));
    ALTER TABLE transfers ADD COLUMN clearing_batch_id BIGINT REFERENCES clearing_batches (id);
    ALTER TABLE transfers ADD CONSTRAINT transfers_payout_batch_check
        CHECK ((kind = 'payout') = (clearing_batch_id IS NOT NULL));
    CREATE UNIQUE INDEX transfers_clearing ON transfers (clearing_batch_id, debit_account)
        WHERE clearing_batch_id IS NOT NULL;

    CREATE INDEX accounts_merchant_currency ON accounts (currency, id) WHERE kind = 'merchant';
    "#,
    // 5: what a client has going on at checkouts, for the limits on held checkouts and
    // on seals sent per hour.
    r#"
    CREATE INDEX checkouts_client ON checkouts (client_id, seal_issued_at) WHERE client_id IS NOT NULL;
    "#,
    // 6: the checkouts a client has held, counted at every hold without reading the
    // client's whole history.
    r#"
    CREATE INDEX checkouts_client_held ON checkouts (client_id, expires_at) WHERE state = 'held';
    "#, // 7: the white room's certificates: clients' (with the phone number sealed inside),
    // pseudonymous ones naming the first, and disposable ones used once; revocations
    // are what the CRL lists.
    r#"
    CREATE TABLE certificates (
        serial TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('holder', 'pseudonym', 'disposable')),
        client_id BIGINT REFERENCES clients (id),
        key_label TEXT NOT NULL UNIQUE,
        der BYTEA NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        names_serial TEXT REFERENCES certificates (serial),
        used_at BIGINT,
        revoked_at BIGINT,
        revocation_reason SMALLINT CHECK (revocation_reason BETWEEN 0 AND 10),
        created_at BIGINT NOT NULL,
        CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL)),
        CHECK ((kind = 'pseudonym') = (names_serial IS NOT NULL)),
        CHECK ((kind = 'disposable') = (client_id IS NULL)),
        CHECK (used_at IS NULL OR kind = 'disposable'),
        CHECK (not_before <= not_after)
    );
    CREATE INDEX certificates_client ON certificates (client_id, created_at) WHERE client_id IS NOT NULL;
    CREATE INDEX certificates_revoked ON certificates (not_after) WHERE revoked_at IS NOT NULL;

    CREATE TABLE signature_requests (
        id BIGSERIAL PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        client_id BIGINT NOT NULL REFERENCES clients (id),
        document_name TEXT NOT NULL,
        certificate_serial TEXT NOT NULL REFERENCES certificates (serial),
        content_digest BYTEA NOT NULL CHECK (octet_length(content_digest) = 32),
        state TEXT NOT NULL CHECK (state IN ('awaiting_seal', 'sealed', 'signed', 'failed')),
        seal_nonce BYTEA NOT NULL CHECK (octet_length(seal_nonce) = 16),
        seal_digits SMALLINT NOT NULL,
        seal_issued_at BIGINT NOT NULL,
        seal_expires_at BIGINT NOT NULL,
        wrong_tries BIGINT NOT NULL DEFAULT 0,
        signature BYTEA,
        signed_at BIGINT,
        created_at BIGINT NOT NULL,
        CHECK ((state = 'signed') = (signature IS NOT NULL)),
        CHECK ((signature IS NULL) = (signed_at IS NULL))
    );
    CREATE INDEX signature_requests_client ON signature_requests (client_id, created_at);

    CREATE TABLE pki_root (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        root_sha256 BYTEA NOT NULL,
        created_at BIGINT NOT NULL
    );
    "#, // 8: the transparency log: entries wait in log_pending until an integration appends
    // them (log_entries, their index in the tree) with the tree's new complete nodes
    // (log_nodes, written once) and signs a checkpoint; log_state keeps the size and the
    // right edge.
    r#"
    CREATE TABLE log_pending (
        id BIGSERIAL PRIMARY KEY,
        entry BYTEA NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE log_entries (
        idx BIGINT PRIMARY KEY CHECK (idx >= 0),
        entry BYTEA NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE log_nodes (
        level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 63),
        idx BIGINT NOT NULL CHECK (idx >= 0),
        hash BYTEA NOT NULL CHECK (octet_length(hash) = 32),
        PRIMARY KEY (level, idx)
    );
    CREATE TABLE log_state (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        size BIGINT NOT NULL CHECK (size >= 0),
        frontier BYTEA NOT NULL
    );
    INSERT INTO log_state (id, size, frontier) VALUES (1, 0, ''::bytea);
    CREATE TABLE log_checkpoints (
        size BIGINT PRIMARY KEY CHECK (size > 0),
        root BYTEA NOT NULL CHECK (octet_length(root) = 32),
        note TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    "#, // 9: evidence records, their hash being the log entry, and the receipts that sign
    // them. A subject's records are a chain: each names the one before (prev_id), and
    // evidence_heads holds each subject's last, which a new record moves on condition
    // that it is still the one its writer read (so a chain cannot fork). Both tables
    // are written where they end (ids grow; the heads are few pages), not at one place
    // per subject as an index of (subject, seq) would be. A log entry names its record,
    // so that a record finds its index (appended to as well).
    r#"
    CREATE TABLE evidence (
        id BIGSERIAL PRIMARY KEY,
        subject TEXT NOT NULL,
        seq BIGINT NOT NULL CHECK (seq >= 1),
        prev_id BIGINT REFERENCES evidence (id),
        type TEXT NOT NULL,
        hash BYTEA NOT NULL CHECK (octet_length(hash) = 32),
        record BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        CHECK ((seq = 1) = (prev_id IS NULL))
    );
    CREATE TABLE evidence_heads (
        subject TEXT PRIMARY KEY,
        last_id BIGINT NOT NULL REFERENCES evidence (id),
        seq BIGINT NOT NULL CHECK (seq >= 1),
        hash BYTEA NOT NULL CHECK (octet_length(hash) = 32)
    );
    ALTER TABLE log_pending ADD COLUMN evidence_id BIGINT;
    ALTER TABLE log_entries ADD COLUMN evidence_id BIGINT;
    CREATE INDEX log_entries_by_evidence ON log_entries (evidence_id)
        WHERE evidence_id IS NOT NULL;
    CREATE TABLE receipts (
        evidence_id BIGINT PRIMARY KEY REFERENCES evidence (id),
        signature BYTEA NOT NULL,
        created_at BIGINT NOT NULL
    );
    "#, // 10: log_nodes keeps only the levels of the hash tiles above the entries (8, 16,
    // ...); level 0 is the entries' leaf hashes and the levels between are computed
    // from the stored level below when asked (`crate::log::stored_level`).
    r#"
    DELETE FROM log_nodes WHERE level = 0 OR level % 8 <> 0;
    "#, // 11: a number's evidence head is kept on its own row, which an authorization
    // wave updates anyway (it moves the head in its numbers' UPDATE): no head tuple of
    // its own per payment (the number's other events update the row for the head
    // alone). evidence_seq is 0 before a number's first record.
    r#"
    ALTER TABLE numbers ADD COLUMN evidence_last_id BIGINT REFERENCES evidence (id),
        ADD COLUMN evidence_seq BIGINT NOT NULL DEFAULT 0 CHECK (evidence_seq >= 0),
        ADD COLUMN evidence_hash BYTEA CHECK (length(evidence_hash) = 32);
    UPDATE numbers n SET evidence_last_id = h.last_id, evidence_seq = h.seq, evidence_hash = h.hash
        FROM evidence_heads h WHERE h.subject = 'number:' || n.id;
    DELETE FROM evidence_heads h USING numbers n WHERE h.subject = 'number:' || n.id;
    "#, // 12: sign-in pauses grow when they follow each other (sign_in_locks), and the
    // holder lifts one with an unlock code sent to their phone: the code's nonce and
    // issue time (the code itself is never stored) and the sends of the hour.
    r#"
    ALTER TABLE clients ADD COLUMN sign_in_locks BIGINT NOT NULL DEFAULT 0
            CHECK (sign_in_locks >= 0),
        ADD COLUMN unlock_nonce BYTEA CHECK (octet_length(unlock_nonce) = 16),
        ADD COLUMN unlock_issued_at BIGINT,
        ADD COLUMN unlock_sends BIGINT NOT NULL DEFAULT 0 CHECK (unlock_sends >= 0),
        ADD COLUMN unlock_sends_since BIGINT NOT NULL DEFAULT 0;
    "#, // 13: one budget of messages per client, counted from the outbox: each message
    // says what it is for (and, for a number a merchant asked for, which merchant), so
    // that the transaction queuing one more counts the client's last hour by kind, under
    // the client's account lock. Messages queued before are counted as notices (in the
    // total only). And who a merchant may have a number sent to: the clients who paid it
    // or signed in on one of its checkouts, recorded when they do (and here from the
    // past).
    r#"
    ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'notice'
            CHECK (kind IN ('payment_seal', 'signature_seal', 'client_number', 'merchant_number', 'notice')),
        ADD COLUMN merchant_id BIGINT REFERENCES merchants (id),
        ADD CHECK ((merchant_id IS NOT NULL) = (kind = 'merchant_number'));
    -- Past rows are notices; a message queued from now on must say what it is, so that
    -- an instance of the previous version still running fails to queue rather than slip
    -- its seals and numbers past the budget as notices. Stop older instances first.
    ALTER TABLE messages ALTER COLUMN kind DROP DEFAULT;
    CREATE INDEX messages_address_time ON messages (address, created_at);
    CREATE INDEX messages_merchant_time ON messages (merchant_id, created_at)
        WHERE merchant_id IS NOT NULL;

    CREATE TABLE merchant_clients (
        merchant_id BIGINT NOT NULL REFERENCES merchants (id),
        client_id BIGINT NOT NULL REFERENCES clients (id),
        created_at BIGINT NOT NULL,
        PRIMARY KEY (merchant_id, client_id)
    );
    INSERT INTO merchant_clients (merchant_id, client_id, created_at)
        SELECT merchant_id, client_id, min(created_at) FROM authorizations
        WHERE captured > 0
           OR id IN (SELECT authorization_id FROM checkouts WHERE authorization_id IS NOT NULL)
        GROUP BY merchant_id, client_id;
    "#,
    // 14: a client may cancel a checkout (open, or held for them): it ends `canceled`,
    // naming that client, with its hold released if it had one.
    r#"
    ALTER TABLE checkouts DROP CONSTRAINT checkouts_state_check,
        ADD CONSTRAINT checkouts_state_check
            CHECK (state IN ('open', 'held', 'paid', 'failed', 'expired', 'canceled')),
        DROP CONSTRAINT checkouts_check,
        ADD CONSTRAINT checkouts_check
            CHECK ((state IN ('open', 'expired') OR client_id IS NOT NULL)
                AND (state IN ('open', 'expired', 'canceled') OR authorization_id IS NOT NULL));
    "#,
    // 15: the client's wallet: their payments, newest first, a page at a time (the
    // history, read through the client's numbers), and what became of each number's
    // payments (a hold voided or expired is not money used). Created on existing
    // databases as on new ones.
    r#"
    CREATE INDEX authorizations_number ON authorizations (number_id);
    "#,
    // 16: every message tracked: its medium, the life of its secret (`expires_at`: never
    // sent after; a day for the messages queued before), the route that took it, the
    // provider's id of each of its parts (`message_parts`, where receipts are matched),
    // its tries and last error, and its times. `sent` becomes `submitted` (its channel is
    // its route); a failure's reason is its `last_error`. A message queued from now on
    // must say when it expires (no default): stop older instances first.
    r#"
    ALTER TABLE messages DROP CONSTRAINT messages_state_check;
    ALTER TABLE messages RENAME COLUMN channel TO route;
    ALTER TABLE messages
        ADD COLUMN medium TEXT NOT NULL DEFAULT 'sms' CHECK (medium IN ('sms', 'email')),
        ADD COLUMN last_error TEXT,
        ADD COLUMN submitted_at BIGINT,
        ADD COLUMN ended_at BIGINT,
        ADD COLUMN expires_at BIGINT;
    UPDATE messages SET
        state = CASE state WHEN 'sent' THEN 'submitted' ELSE state END,
        route = CASE state WHEN 'sent' THEN coalesce(route, 'unknown') ELSE route END,
        last_error = CASE state WHEN 'failed' THEN substr(reference, 1, 200) END,
        submitted_at = CASE state WHEN 'sent' THEN updated_at END,
        ended_at = CASE state WHEN 'failed' THEN updated_at END,
        expires_at = created_at + 86400;
    ALTER TABLE messages DROP COLUMN reference,
        ALTER COLUMN expires_at SET NOT NULL,
        ADD CONSTRAINT messages_state_check
            CHECK (state IN ('pending', 'submitted', 'delivered', 'failed', 'expired')),
        ADD CHECK (attempts >= 0),
        ADD CHECK ((state IN ('pending', 'submitted')) = (ended_at IS NULL)),
        ADD CHECK (state NOT IN ('submitted', 'delivered')
            OR (route IS NOT NULL AND submitted_at IS NOT NULL));
    CREATE INDEX messages_pending_expiry ON messages (expires_at) WHERE state = 'pending';
    CREATE INDEX messages_time ON messages (created_at);

    CREATE TABLE message_parts (
        message_id BIGINT NOT NULL REFERENCES messages (id),
        part INTEGER NOT NULL CHECK (part >= 0),
        route TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('submitted', 'delivered', 'failed')),
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (message_id, part)
    );
    CREATE INDEX message_parts_provider ON message_parts (route, provider_id);
    "#,
    // 17: a client may give an e-mail address (checked by `EmailAddress`), where notices
    // go besides the phone.
    r#"
    ALTER TABLE clients ADD COLUMN email TEXT
        CHECK (email IS NULL OR octet_length(email) BETWEEN 3 AND 254);
    "#,
    // 18: a client may choose to be called (`by_call`): their messages are of medium
    // `voice`, a call first, an SMS when no call route takes it.
    r#"
    ALTER TABLE clients ADD COLUMN by_call BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE messages DROP CONSTRAINT messages_medium_check,
        ADD CONSTRAINT messages_medium_check CHECK (medium IN ('sms', 'voice', 'email'));
    "#,
    // 19: the notary's envelopes: opened for a disposable certificate (its serial, unique:
    // one envelope per certificate), then the manifest the station signed (canonical
    // JSON and its SHA-256), its files (name, size, SHA-256; when each arrived) and its
    // destinations; a refused envelope keeps only its reason.
    r#"
    CREATE TABLE envelopes (
        id BIGSERIAL PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        client_id BIGINT NOT NULL REFERENCES clients (id),
        state TEXT NOT NULL CHECK (state IN ('open', 'receiving', 'awaiting_seal', 'sealed',
            'notarized', 'refused', 'failed', 'expired')),
        certificate_serial TEXT NOT NULL UNIQUE,
        certificate_expires_at BIGINT NOT NULL,
        manifest TEXT,
        manifest_sha256 BYTEA CHECK (manifest_sha256 IS NULL OR length(manifest_sha256) = 32),
        refusal TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        CHECK ((manifest IS NULL) = (manifest_sha256 IS NULL)),
        CHECK ((state = 'refused') = (refusal IS NOT NULL)),
        CHECK (state IN ('open', 'refused', 'expired') OR manifest IS NOT NULL)
    );
    CREATE INDEX envelopes_client ON envelopes (client_id, id);
    CREATE TABLE envelope_files (
        envelope_id BIGINT NOT NULL REFERENCES envelopes (id),
        position INTEGER NOT NULL CHECK (position >= 0),
        name TEXT NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 255),
        size BIGINT NOT NULL CHECK (size >= 0),
        sha256 BYTEA NOT NULL CHECK (length(sha256) = 32),
        received_at BIGINT,
        PRIMARY KEY (envelope_id, position),
        UNIQUE (envelope_id, name)
    );
    CREATE TABLE envelope_destinations (
        envelope_id BIGINT NOT NULL REFERENCES envelopes (id),
        position INTEGER NOT NULL CHECK (position >= 0),
        email TEXT,
        phone TEXT,
        CHECK (email IS NOT NULL OR phone IS NOT NULL),
        PRIMARY KEY (envelope_id, position)
    );
    "#,
    // 20: the notary's archive, in the database itself (every instance reads what any
    // wrote): an upload's chunks (1 MiB each, stored out of line and uncompressed: files
    // are mostly compressed already) are written as they arrive, and the object's row,
    // written last, makes them visible under their SHA-256. An upload without an object
    // row is unfinished: refused, abandoned, or of content stored already.
    r#"
    CREATE TABLE archive_uploads (
        id BIGSERIAL PRIMARY KEY,
        started_at BIGINT NOT NULL
    );
    CREATE TABLE archive_chunks (
        upload_id BIGINT NOT NULL REFERENCES archive_uploads (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL CHECK (seq >= 0),
        bytes BYTEA NOT NULL,
        PRIMARY KEY (upload_id, seq)
    );
    ALTER TABLE archive_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;
    CREATE TABLE archive_objects (
        sha256 BYTEA PRIMARY KEY CHECK (octet_length(sha256) = 32),
        upload_id BIGINT NOT NULL UNIQUE REFERENCES archive_uploads (id),
        size BIGINT NOT NULL CHECK (size >= 0),
        retain_until BIGINT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX archive_objects_retention ON archive_objects (retain_until);
    "#,
    // 21: the notary after the upload (SQLite's migration 23): station certificates (a
    // key the station holds: no label, no client), an envelope's seal, signer, waiting
    // reason, container and retention, each file's signature and signed PDF.
    r#"
    DO $$
    DECLARE constraint_name TEXT;
    BEGIN
        FOR constraint_name IN
            SELECT conname FROM pg_constraint
            WHERE conrelid = 'certificates'::regclass AND contype = 'c'
              AND pg_get_constraintdef(oid) LIKE '%disposable%'
        LOOP
            EXECUTE format('ALTER TABLE certificates DROP CONSTRAINT %I', constraint_name);
        END LOOP;
    END $$;
    ALTER TABLE certificates ALTER COLUMN key_label DROP NOT NULL,
        ADD CONSTRAINT certificates_kind_v21
            CHECK (kind IN ('holder', 'pseudonym', 'disposable', 'station')),
        ADD CONSTRAINT certificates_client_v21
            CHECK ((kind IN ('disposable', 'station')) = (client_id IS NULL)),
        ADD CONSTRAINT certificates_used_v21
            CHECK (used_at IS NULL OR kind IN ('disposable', 'station')),
        ADD CONSTRAINT certificates_label_v21 CHECK ((kind = 'station') = (key_label IS NULL));

    ALTER TABLE envelopes ADD COLUMN signer_serial TEXT,
        ADD COLUMN seal_nonce BYTEA CHECK (seal_nonce IS NULL OR length(seal_nonce) = 16),
        ADD COLUMN seal_digits INTEGER,
        ADD COLUMN seal_issued_at BIGINT,
        ADD COLUMN seal_expires_at BIGINT,
        ADD COLUMN wrong_tries INTEGER NOT NULL DEFAULT 0 CHECK (wrong_tries >= 0),
        ADD COLUMN waiting TEXT,
        ADD COLUMN container_sha256 BYTEA
            CHECK (container_sha256 IS NULL OR length(container_sha256) = 32),
        ADD COLUMN container_size BIGINT,
        ADD COLUMN container_manifest BYTEA,
        ADD COLUMN container_signature BYTEA,
        ADD COLUMN retain_until BIGINT,
        ADD COLUMN notarized_at BIGINT,
        ADD COLUMN deleted_at BIGINT;
    ALTER TABLE envelope_files ADD COLUMN signature BYTEA,
        ADD COLUMN signed_at BIGINT,
        ADD COLUMN signed_pdf_sha256 BYTEA
            CHECK (signed_pdf_sha256 IS NULL OR length(signed_pdf_sha256) = 32),
        ADD COLUMN signed_pdf_size BIGINT,
        ADD COLUMN pdf_note TEXT;
    CREATE INDEX envelopes_retention ON envelopes (retain_until)
        WHERE retain_until IS NOT NULL AND deleted_at IS NULL;
    "#,
    // 22: a phone's messages of the last hour (what its budget counts, by kind and
    // merchant) are read from the index alone, not from each message's row.
    r#"
    CREATE INDEX messages_address_window ON messages (address, created_at)
        INCLUDE (kind, merchant_id);
    DROP INDEX messages_address_time;
    "#,
    // 23: a client's envelopes still open or receiving (counted at each new one) are
    // found by an index of those alone.
    r#"
    CREATE INDEX envelopes_open ON envelopes (client_id, certificate_expires_at, state)
        WHERE state IN ('open', 'receiving');
    "#,
    // 24: the station's signature over an accepted manifest is kept with it, for the
    // envelope's evidence bundle (envelopes accepted before have none).
    r#"
    ALTER TABLE envelopes ADD COLUMN manifest_signature BYTEA
        CHECK (manifest_signature IS NULL OR length(manifest_signature) BETWEEN 1 AND 512);
    "#,
    // 25: certified delivery (issue 21): a delivery of a notarized envelope and its
    // recipients, each with their notice, code, session, withdrawal certificate and
    // answer (and the reminder sent before the deadline); a client is found by their
    // e-mail address (a recipient who is one). Only a digest of the notice's link and of the recipient's session token is
    // kept. `settled_at` is set once every recipient's state is final: the deadline's
    // sweep reads the unsettled alone; `told_state` is the last state the sender was
    // told of by e-mail (the senders' notices are queued from those that differ).
    r#"
    CREATE TABLE deliveries (
        id BIGSERIAL PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        envelope_id BIGINT NOT NULL REFERENCES envelopes (id),
        client_id BIGINT NOT NULL REFERENCES clients (id),
        deadline_at BIGINT NOT NULL,
        link_base TEXT NOT NULL,
        hide_sender BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        settled_at BIGINT
    );
    CREATE INDEX deliveries_envelope ON deliveries (envelope_id, id);
    CREATE INDEX deliveries_unsettled ON deliveries (deadline_at) WHERE settled_at IS NULL;
    CREATE TABLE delivery_recipients (
        delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
        position BIGINT NOT NULL CHECK (position >= 0),
        email TEXT NOT NULL,
        phone TEXT NOT NULL,
        phone_given BOOLEAN NOT NULL,
        client_id BIGINT REFERENCES clients (id),
        contact_salt BYTEA NOT NULL CHECK (length(contact_salt) = 16),
        link_sha256 BYTEA NOT NULL UNIQUE CHECK (length(link_sha256) = 32),
        state TEXT NOT NULL CHECK (state IN ('notified', 'notice_failed', 'paused',
            'authenticated', 'withdrawn', 'accepted', 'rejected', 'expired')),
        notice_message_id BIGINT,
        notice_sent_at BIGINT,
        code_nonce BYTEA CHECK (code_nonce IS NULL OR length(code_nonce) = 16),
        code_digits BIGINT,
        code_issued_at BIGINT,
        code_expires_at BIGINT,
        codes_sent BIGINT NOT NULL DEFAULT 0,
        wrong_tries BIGINT NOT NULL DEFAULT 0,
        paused_until BIGINT,
        session_sha256 BYTEA UNIQUE CHECK (session_sha256 IS NULL OR length(session_sha256) = 32),
        session_expires_at BIGINT,
        withdrawal_serial TEXT,
        withdrawals BIGINT NOT NULL DEFAULT 0,
        session_withdrawals BIGINT NOT NULL DEFAULT 0,
        withdrawn_session_sha256 BYTEA,
        answer_statement TEXT,
        answer_signature BYTEA,
        answer_time_stamp BYTEA,
        answered_at BIGINT,
        told_state TEXT,
        reminded_at BIGINT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (delivery_id, position),
        CHECK ((state IN ('accepted', 'rejected')) = (answered_at IS NOT NULL))
    );
    CREATE INDEX clients_email ON clients (lower(email)) WHERE email IS NOT NULL;
    CREATE INDEX delivery_recipients_notice ON delivery_recipients (notice_message_id)
        WHERE notice_message_id IS NOT NULL;
    CREATE INDEX delivery_recipients_to_tell ON delivery_recipients (delivery_id, position)
        WHERE told_state IS DISTINCT FROM state
            AND state IN ('notice_failed', 'paused', 'accepted', 'rejected', 'expired');
    "#,
    // 26: merchants' webhook secrets rotate (issue 23): the version in use, and the one
    // before it with when it stops signing, during an overlap.
    r#"
    ALTER TABLE merchants ADD COLUMN webhook_secret_version BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE merchants ADD COLUMN webhook_previous_version BIGINT;
    ALTER TABLE merchants ADD COLUMN webhook_previous_until BIGINT;
    "#,
    // 27: retention (issue 23): the purge finds what ended before its window by these.
    r#"
    CREATE INDEX idempotency_time ON idempotency (created_at);
    CREATE INDEX webhooks_ended ON webhooks (updated_at) WHERE state <> 'pending';
    CREATE INDEX checkouts_ended ON checkouts (updated_at)
        WHERE state IN ('expired', 'canceled', 'failed');
    CREATE INDEX messages_ended ON messages (ended_at) WHERE ended_at IS NOT NULL;
    CREATE INDEX messages_body_kept ON messages (ended_at)
        WHERE ended_at IS NOT NULL AND length(sealed_body) > 0;
    CREATE INDEX messages_submitted_expiry ON messages (expires_at) WHERE state = 'submitted';
    CREATE INDEX messages_submitted_body ON messages (expires_at)
        WHERE state = 'submitted' AND length(sealed_body) > 0;
    "#,
    // 28: the issuer's operators (issue 23): console accounts, with the clients' sign-in
    // counters, and their sessions (purged with the clients').
    r#"
    CREATE TABLE operators (
        id BIGSERIAL PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        sign_in_failures BIGINT NOT NULL DEFAULT 0 CHECK (sign_in_failures >= 0),
        sign_in_locks BIGINT NOT NULL DEFAULT 0 CHECK (sign_in_locks >= 0),
        sign_in_locked_until BIGINT NOT NULL DEFAULT 0,
        disabled BOOLEAN NOT NULL DEFAULT FALSE,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE operator_sessions (
        token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
        operator_id BIGINT NOT NULL REFERENCES operators (id),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);
    "#,
];
/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Any 64-bit number that no other program of the database uses as an advisory lock.
const MIGRATION_LOCK: i64 = 0x5CEA_0000_0000_0001;

/// Brings the schema (the first of the connection's `search_path`) up to
/// [`SCHEMA_VERSION`], in one transaction, holding an advisory lock so that instances
/// starting together take turns.
pub async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let run = async {
        let transaction = client.transaction().await?;
        // Another instance may be migrating: wait for it longer than batches wait.
        transaction
            .batch_execute("SET LOCAL lock_timeout = '5min'")
            .await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        transaction
            .batch_execute("CREATE TABLE IF NOT EXISTS sceau_schema (version BIGINT NOT NULL)")
            .await?;
        let found: Option<i64> = transaction
            .query_opt("SELECT version FROM sceau_schema", &[])
            .await?
            .map(|row| row.get(0));
        let found = found.unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(Fail::Store(StoreError::SchemaTooNew {
                found,
                known: SCHEMA_VERSION,
            }));
        }
        for migration in MIGRATIONS.iter().skip(found as usize) {
            transaction.batch_execute(migration).await?;
        }
        if found == 0 {
            transaction
                .execute(
                    "INSERT INTO sceau_schema (version) VALUES ($1)",
                    &[&SCHEMA_VERSION],
                )
                .await?;
        } else if found < SCHEMA_VERSION {
            transaction
                .execute("UPDATE sceau_schema SET version = $1", &[&SCHEMA_VERSION])
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    };
    run.await.map_err(Fail::into_store_error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::postgres::scratch::{ScratchSchema, test_database_url};

    /// A schema of version 15 with messages queued, sent and failed comes through
    /// migration 16 whole: ids kept, `sent` is `submitted` on its channel as its route, a
    /// failure's reason is its last error, each lives a day from its creation; and the
    /// new rules hold from then on.
    #[tokio::test]
    async fn migration_16_tracks_the_messages_already_queued() {
        let Some(url) = test_database_url() else {
            return;
        };
        let schema = ScratchSchema::create(&url).await.unwrap();
        let (mut client, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        for migration in &MIGRATIONS[..15] {
            client.batch_execute(migration).await.unwrap();
        }
        client
            .batch_execute(
                "CREATE TABLE sceau_schema (version BIGINT NOT NULL); \
                 INSERT INTO sceau_schema (version) VALUES (15); \
                 INSERT INTO messages (id, address, sealed_body, state, channel, reference, \
                 attempts, kind, created_at, updated_at, claimed_until) VALUES \
                 (3, '+33612345678', '\\x01', 'pending', NULL, NULL, 0, 'client_number', 100, 100, 115), \
                 (5, '+33612345678', '\\x02', 'sent', 'dev-phone', 'dev-5', 1, 'payment_seal', 200, 210, 215), \
                 (8, '+33687654321', '\\x03', 'failed', 'dev-phone', 'refused', 1, 'notice', 300, 320, 0);",
            )
            .await
            .unwrap();

        migrate(&mut client).await.unwrap();

        type Row = (i64, String, String, Option<String>, i64, Option<String>);
        type Times = (Option<i64>, Option<i64>, i64, i64, Vec<u8>);
        let rows: Vec<(Row, Times)> = client
            .query(
                "SELECT id, medium, state, route, attempts, last_error, submitted_at, ended_at, \
                 expires_at, claimed_until, sealed_body FROM messages ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)),
                    (r.get(6), r.get(7), r.get(8), r.get(9), r.get(10)),
                )
            })
            .collect();
        let sms = "sms".to_owned();
        assert_eq!(
            rows,
            vec![
                (
                    (3, sms.clone(), "pending".into(), None, 0, None),
                    (None, None, 86_500, 115, vec![1])
                ),
                (
                    (
                        5,
                        sms.clone(),
                        "submitted".into(),
                        Some("dev-phone".into()),
                        1,
                        None
                    ),
                    (Some(210), None, 86_600, 215, vec![2])
                ),
                (
                    (
                        8,
                        sms,
                        "failed".into(),
                        Some("dev-phone".into()),
                        1,
                        Some("refused".into())
                    ),
                    (None, Some(320), 86_700, 0, vec![3])
                ),
            ]
        );
        let accepts = async |sql: &str| client.batch_execute(sql).await.is_ok();
        assert!(
            !accepts(
                "INSERT INTO messages (address, sealed_body, state, kind, created_at, updated_at, expires_at) \
                 VALUES ('+33612345678', '\\x00', 'sent', 'notice', 9, 9, 99)"
            )
            .await
        );
        assert!(
            !accepts(
                "INSERT INTO messages (address, sealed_body, state, kind, created_at, updated_at) \
                 VALUES ('+33612345678', '\\x00', 'pending', 'notice', 9, 9)"
            )
            .await,
            "a new message says when it expires"
        );
        assert!(
            !accepts(
                "INSERT INTO messages (address, sealed_body, state, kind, created_at, updated_at, expires_at) \
                 VALUES ('+33612345678', '\\x00', 'delivered', 'notice', 9, 9, 99)"
            )
            .await
        );
        assert!(
            accepts(
                "INSERT INTO message_parts (message_id, part, route, provider_id, state, updated_at) \
                 VALUES (5, 0, 'dev-phone', 'dev-5', 'submitted', 210)"
            )
            .await
        );
        let version: i64 = client
            .query_one("SELECT version FROM sceau_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, SCHEMA_VERSION);
    }

    /// A schema of version 20 with certificates in use comes through migration 21 (which
    /// drops the checks that knew only three kinds) with every row unchanged, and the old
    /// rules hold beside the new ones: a station's certificate has no key label and no
    /// client, only it and a disposable one are used.
    #[tokio::test]
    async fn migration_21_takes_station_certificates_and_keeps_the_others() {
        let Some(url) = test_database_url() else {
            return;
        };
        let schema = ScratchSchema::create(&url).await.unwrap();
        let (mut client, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        for migration in &MIGRATIONS[..20] {
            client.batch_execute(migration).await.unwrap();
        }
        client
            .batch_execute(
                "CREATE TABLE sceau_schema (version BIGINT NOT NULL); \
                 INSERT INTO sceau_schema (version) VALUES (20); \
                 INSERT INTO accounts (id, kind, owner_id, currency) VALUES (1, 'client', 1, 'EUR'); \
                 INSERT INTO clients (id, login, display_name, password_hash, phone, account_id, \
                 created_at) VALUES (1, 'alice', 'Alice', 'h', '+33612345678', 1, 1); \
                 INSERT INTO certificates (serial, kind, client_id, key_label, der, not_before, \
                 not_after, names_serial, used_at, revoked_at, revocation_reason, created_at) VALUES \
                 ('0a01', 'holder', 1, 'key-0a01', '\\x01', 10, 1000, NULL, NULL, 40, 1, 10), \
                 ('0a02', 'pseudonym', 1, 'key-0a02', '\\x02', 10, 1000, '0a01', NULL, NULL, NULL, 10), \
                 ('0c01', 'disposable', NULL, 'key-0c01', '\\x03', 10, 600, NULL, 20, 21, 5, 10); \
                 INSERT INTO signature_requests (id, public_id, client_id, document_name, \
                 certificate_serial, content_digest, state, seal_nonce, seal_digits, \
                 seal_issued_at, seal_expires_at, created_at) VALUES (4, 'sr_1', 1, 'a.pdf', \
                 '0a02', decode(repeat('00', 32), 'hex'), 'awaiting_seal', \
                 decode(repeat('00', 16), 'hex'), 8, 30, 330, 30); \
                 INSERT INTO envelopes (id, public_id, client_id, state, certificate_serial, \
                 certificate_expires_at, created_at, updated_at) \
                 VALUES (7, 'env_1', 1, 'open', '0c01', 600, 15, 15);",
            )
            .await
            .unwrap();
        let dump = async |client: &tokio_postgres::Client| -> Vec<String> {
            client
                .query(
                    "SELECT concat_ws('|', serial, kind, quote_nullable(client_id), \
                     quote_nullable(key_label), encode(der, 'hex'), not_before, not_after, \
                     quote_nullable(names_serial), quote_nullable(used_at), \
                     quote_nullable(revoked_at), quote_nullable(revocation_reason), created_at) \
                     FROM certificates ORDER BY serial",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect()
        };
        let before = dump(&client).await;
        assert_eq!(before.len(), 3);

        migrate(&mut client).await.unwrap();

        assert_eq!(dump(&client).await, before);
        let version: i64 = client
            .query_one("SELECT version FROM sceau_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, SCHEMA_VERSION);
        let tries: i32 = client
            .query_one("SELECT wrong_tries FROM envelopes WHERE id = 7", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(tries, 0);

        let insert = async |serial: &str, kind: &str, owner: Option<i64>, label: Option<&str>| {
            client
                .execute(
                    "INSERT INTO certificates (serial, kind, client_id, key_label, der, \
                     not_before, not_after, created_at) VALUES ($1, $2, $3, $4, '\\x00', 10, 600, 50)",
                    &[&serial, &kind, &owner, &label],
                )
                .await
                .is_ok()
        };
        assert!(insert("5a01", "station", None, None).await);
        assert!(!insert("5a02", "station", None, Some("key-5a02")).await);
        assert!(!insert("5a03", "station", Some(1), None).await);
        assert!(!insert("5a04", "holder", Some(1), None).await);
        assert!(!insert("5a05", "disposable", Some(1), Some("key-5a05")).await);
        assert!(!insert("5a06", "stamp", None, None).await);
        assert!(!insert("0a01", "disposable", None, Some("key-other")).await);
        assert!(
            !insert("5a07", "disposable", None, Some("key-0c01")).await,
            "a key label is still unique"
        );
        assert!(
            !insert("5a08", "pseudonym", Some(1), Some("key-5a08")).await,
            "a pseudonym still names its certificate"
        );
        let used = async |serial: &str| {
            client
                .execute(
                    "UPDATE certificates SET used_at = 60 WHERE serial = $1",
                    &[&serial],
                )
                .await
                .is_ok()
        };
        assert!(used("5a01").await);
        assert!(
            !used("0a01").await,
            "only a disposable or a station's is used"
        );
    }
}
