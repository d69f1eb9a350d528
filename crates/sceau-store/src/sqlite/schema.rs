//! SQLite schema, versioned. Migrations run in order at open; a database written by a
//! newer binary is refused.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension};

const MIGRATIONS: &[&str] = &[
    // 1: the foundation — ledger, clients, merchants, numbers, authorizations,
    // idempotency, sessions, outbox.
    r#"
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('client', 'merchant', 'funding')),
        owner_id INTEGER,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        balance INTEGER NOT NULL DEFAULT 0,
        held INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
        credit_limit INTEGER NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
        CHECK (kind <> 'client' OR balance - held >= -credit_limit)
    );
    CREATE UNIQUE INDEX accounts_funding ON accounts (currency) WHERE kind = 'funding';
    CREATE UNIQUE INDEX accounts_merchant ON accounts (owner_id, currency) WHERE kind = 'merchant';

    CREATE TABLE transfers (
        id INTEGER PRIMARY KEY,
        debit_account INTEGER NOT NULL REFERENCES accounts (id),
        credit_account INTEGER NOT NULL REFERENCES accounts (id),
        amount INTEGER NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('opening', 'capture', 'refund')),
        authorization_id INTEGER,
        created_at INTEGER NOT NULL,
        CHECK (debit_account <> credit_account)
    );
    CREATE INDEX transfers_authorization ON transfers (authorization_id) WHERE authorization_id IS NOT NULL;

    CREATE TABLE clients (
        id INTEGER PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        phone TEXT NOT NULL UNIQUE,
        account_id INTEGER NOT NULL UNIQUE REFERENCES accounts (id),
        blocked INTEGER NOT NULL DEFAULT 0,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        paused_until INTEGER NOT NULL DEFAULT 0,
        sign_in_failures INTEGER NOT NULL DEFAULT 0,
        sign_in_locked_until INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );

    CREATE TABLE merchants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        api_key_hash BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );

    CREATE TABLE numbers (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients (id),
        account_id INTEGER NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        details_fingerprint BLOB NOT NULL,
        last_four TEXT NOT NULL,
        expiry_month INTEGER NOT NULL,
        expiry_year INTEGER NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('client', 'merchant')),
        uses_max INTEGER NOT NULL CHECK (uses_max >= 1),
        amount_rule TEXT NOT NULL CHECK (amount_rule IN ('any', 'cap', 'exact')),
        amount_limit INTEGER,
        merchant_lock TEXT NOT NULL CHECK (merchant_lock IN ('any', 'named', 'first')),
        merchant_id INTEGER,
        valid_until INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('live', 'consumed', 'blocked', 'expired')),
        uses_count INTEGER NOT NULL DEFAULT 0,
        amount_used INTEGER NOT NULL DEFAULT 0,
        failed_tries INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        CHECK (uses_count <= uses_max),
        CHECK (amount_rule <> 'cap' OR amount_used <= amount_limit)
    );
    CREATE UNIQUE INDEX numbers_live_fingerprint ON numbers (fingerprint) WHERE state = 'live';
    CREATE INDEX numbers_fingerprint ON numbers (fingerprint, id);
    CREATE INDEX numbers_client ON numbers (client_id, id);
    CREATE INDEX numbers_live_validity ON numbers (valid_until) WHERE state = 'live';

    CREATE TABLE authorizations (
        id INTEGER PRIMARY KEY,
        merchant_id INTEGER NOT NULL REFERENCES merchants (id),
        number_id INTEGER NOT NULL REFERENCES numbers (id),
        client_id INTEGER NOT NULL REFERENCES clients (id),
        debit_account INTEGER NOT NULL REFERENCES accounts (id),
        credit_account INTEGER NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        captured INTEGER NOT NULL DEFAULT 0,
        refunded INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL CHECK (state IN ('authorized', 'captured', 'voided', 'expired')),
        merchant_reference TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        hold_expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK (captured >= 0 AND captured <= amount),
        CHECK (refunded >= 0 AND refunded <= captured)
    );
    CREATE INDEX authorizations_pending ON authorizations (hold_expires_at) WHERE state = 'authorized';

    -- A rowid table: rows (with their stored outcome) are appended in time order; only
    -- the small unique index is keyed by merchant and key.
    CREATE TABLE idempotency (
        id INTEGER PRIMARY KEY,
        merchant_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        request_hash BLOB NOT NULL,
        outcome TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX idempotency_key ON idempotency (merchant_id, key);

    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients (id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        address TEXT NOT NULL,
        sealed_body BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        channel TEXT,
        reference TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX messages_pending ON messages (id) WHERE state = 'pending';
    CREATE INDEX messages_address ON messages (address, id);
    "#,
    // 2: dispatchers of several instances claim messages before sending them.
    r#"
    ALTER TABLE messages ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
    "#,
    // 3: checkouts paid with a seal (Figures 1-3), and webhooks to merchants. A seal is
    // never stored: only what it is recomputed from (nonce, digits, times).
    r#"
    CREATE TABLE checkouts (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        merchant_id INTEGER NOT NULL REFERENCES merchants (id),
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        amount INTEGER NOT NULL CHECK (amount > 0),
        merchant_reference TEXT NOT NULL,
        object TEXT NOT NULL,
        return_url TEXT NOT NULL,
        webhook_url TEXT,
        state TEXT NOT NULL CHECK (state IN ('open', 'held', 'paid', 'failed', 'expired')),
        failure TEXT,
        client_id INTEGER REFERENCES clients (id),
        authorization_id INTEGER UNIQUE REFERENCES authorizations (id),
        seal_nonce BLOB CHECK (seal_nonce IS NULL OR length(seal_nonce) = 16),
        seal_digits INTEGER CHECK (seal_digits IS NULL OR seal_digits BETWEEN 6 AND 10),
        seal_issued_at INTEGER,
        seal_expires_at INTEGER,
        seal_wrong_tries INTEGER NOT NULL DEFAULT 0 CHECK (seal_wrong_tries BETWEEN 0 AND 3),
        seal_sends INTEGER NOT NULL DEFAULT 0 CHECK (seal_sends >= 0),
        version INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK (state IN ('open', 'expired') OR (client_id IS NOT NULL AND authorization_id IS NOT NULL)),
        CHECK (state <> 'paid' OR seal_nonce IS NOT NULL)
    );
    CREATE INDEX checkouts_open ON checkouts (expires_at) WHERE state IN ('open', 'held');

    CREATE TABLE webhooks (
        id INTEGER PRIMARY KEY,
        merchant_id INTEGER NOT NULL REFERENCES merchants (id),
        checkout_id INTEGER REFERENCES checkouts (id),
        url TEXT NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        claimed_until INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX webhooks_due ON webhooks (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX webhooks_checkout ON webhooks (checkout_id);
    "#,
    // 4: clearing. Merchants get the bank details they are paid out to; closing a batch
    // pays each settlement account's balance out with a transfer of kind 'payout'
    // (merchant account to funding account) recorded with the batch, which keeps its
    // settlement file. SQLite cannot change a CHECK constraint, so `transfers` is rebuilt
    // (nothing references it; rows keep their ids).
    r#"
    ALTER TABLE merchants ADD COLUMN iban TEXT;
    ALTER TABLE merchants ADD COLUMN bic TEXT CHECK ((iban IS NULL) = (bic IS NULL));

    CREATE TABLE clearing_batches (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        payouts_count INTEGER NOT NULL CHECK (payouts_count > 0),
        total INTEGER NOT NULL CHECK (total > 0),
        settlement_file TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );

    CREATE TABLE transfers_v4 (
        id INTEGER PRIMARY KEY,
        debit_account INTEGER NOT NULL REFERENCES accounts (id),
        credit_account INTEGER NOT NULL REFERENCES accounts (id),
        amount INTEGER NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('opening', 'capture', 'refund', 'payout')),
        authorization_id INTEGER,
        created_at INTEGER NOT NULL,
        clearing_batch_id INTEGER REFERENCES clearing_batches (id),
        CHECK (debit_account <> credit_account),
        CHECK ((kind = 'payout') = (clearing_batch_id IS NOT NULL))
    );
    INSERT INTO transfers_v4 (id, debit_account, credit_account, amount, currency, kind, authorization_id, created_at)
        SELECT id, debit_account, credit_account, amount, currency, kind, authorization_id, created_at FROM transfers;
    DROP TABLE transfers;
    ALTER TABLE transfers_v4 RENAME TO transfers;
    CREATE INDEX transfers_authorization ON transfers (authorization_id) WHERE authorization_id IS NOT NULL;
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
        client_id INTEGER REFERENCES clients (id),
        key_label TEXT NOT NULL UNIQUE,
        der BLOB NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        names_serial TEXT REFERENCES certificates (serial),
        used_at INTEGER,
        revoked_at INTEGER,
        revocation_reason INTEGER CHECK (revocation_reason BETWEEN 0 AND 10),
        created_at INTEGER NOT NULL,
        CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL)),
        CHECK ((kind = 'pseudonym') = (names_serial IS NOT NULL)),
        CHECK ((kind = 'disposable') = (client_id IS NULL)),
        CHECK (used_at IS NULL OR kind = 'disposable'),
        CHECK (not_before <= not_after)
    );
    CREATE INDEX certificates_client ON certificates (client_id, created_at) WHERE client_id IS NOT NULL;
    CREATE INDEX certificates_revoked ON certificates (not_after) WHERE revoked_at IS NOT NULL;

    CREATE TABLE signature_requests (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        client_id INTEGER NOT NULL REFERENCES clients (id),
        document_name TEXT NOT NULL,
        certificate_serial TEXT NOT NULL REFERENCES certificates (serial),
        content_digest BLOB NOT NULL CHECK (length(content_digest) = 32),
        state TEXT NOT NULL CHECK (state IN ('awaiting_seal', 'sealed', 'signed', 'failed')),
        seal_nonce BLOB NOT NULL CHECK (length(seal_nonce) = 16),
        seal_digits INTEGER NOT NULL,
        seal_issued_at INTEGER NOT NULL,
        seal_expires_at INTEGER NOT NULL,
        wrong_tries INTEGER NOT NULL DEFAULT 0,
        signature BLOB,
        signed_at INTEGER,
        created_at INTEGER NOT NULL,
        CHECK ((state = 'signed') = (signature IS NOT NULL)),
        CHECK ((signature IS NULL) = (signed_at IS NULL))
    );
    CREATE INDEX signature_requests_client ON signature_requests (client_id, created_at);

    CREATE TABLE pki_root (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        root_sha256 BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    "#, // 8: the transparency log: entries wait in log_pending until an integration appends
    // them (log_entries, their index in the tree) with the tree's new complete nodes
    // (log_nodes, written once) and signs a checkpoint; log_state keeps the size and the
    // right edge.
    r#"
    CREATE TABLE log_pending (
        id INTEGER PRIMARY KEY,
        entry BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE log_entries (
        idx INTEGER PRIMARY KEY CHECK (idx >= 0),
        entry BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE log_nodes (
        level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 63),
        idx INTEGER NOT NULL CHECK (idx >= 0),
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE log_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        size INTEGER NOT NULL CHECK (size >= 0),
        frontier BLOB NOT NULL
    );
    INSERT INTO log_state (id, size, frontier) VALUES (1, 0, x'');
    CREATE TABLE log_checkpoints (
        size INTEGER PRIMARY KEY CHECK (size > 0),
        root BLOB NOT NULL CHECK (length(root) = 32),
        note TEXT NOT NULL,
        created_at INTEGER NOT NULL
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
        id INTEGER PRIMARY KEY,
        subject TEXT NOT NULL,
        seq INTEGER NOT NULL CHECK (seq >= 1),
        prev_id INTEGER REFERENCES evidence (id),
        type TEXT NOT NULL,
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        record BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        CHECK ((seq = 1) = (prev_id IS NULL))
    );
    CREATE TABLE evidence_heads (
        subject TEXT PRIMARY KEY,
        last_id INTEGER NOT NULL REFERENCES evidence (id),
        seq INTEGER NOT NULL CHECK (seq >= 1),
        hash BLOB NOT NULL CHECK (length(hash) = 32)
    ) WITHOUT ROWID;
    ALTER TABLE log_pending ADD COLUMN evidence_id INTEGER;
    ALTER TABLE log_entries ADD COLUMN evidence_id INTEGER;
    CREATE INDEX log_entries_by_evidence ON log_entries (evidence_id)
        WHERE evidence_id IS NOT NULL;
    CREATE TABLE receipts (
        evidence_id INTEGER PRIMARY KEY REFERENCES evidence (id),
        signature BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    "#, // 10: the integrator takes evidence records from `evidence` itself, by id, after
    // the last one appended (one writer: ids are committed in order), so that a record
    // costs no queue row to insert and delete. Records still queued are taken from there.
    r#"
    ALTER TABLE log_state ADD COLUMN evidence_through INTEGER NOT NULL DEFAULT 0;
    UPDATE log_state SET evidence_through =
        COALESCE((SELECT MAX(evidence_id) FROM log_entries), 0);
    DELETE FROM log_pending WHERE evidence_id IS NOT NULL;
    "#, // 11: log_nodes keeps only the levels of the hash tiles above the entries (8, 16,
    // ...); level 0 is the entries' leaf hashes and the levels between are computed
    // from the stored level below when asked, so an integration writes about one node
    // row per 256 entries instead of two per entry.
    r#"
    DELETE FROM log_nodes WHERE level = 0 OR level % 8 <> 0;
    "#, // 12: a number's evidence head is kept on its own row, which an authorization
    // updates anyway: a payment's record then costs no head row, page or statement of
    // its own (the number's other events update the row for the head alone).
    // evidence_seq is 0 before a number's first record. Other subjects keep theirs in
    // evidence_heads.
    r#"
    ALTER TABLE numbers ADD COLUMN evidence_last_id INTEGER REFERENCES evidence (id);
    ALTER TABLE numbers ADD COLUMN evidence_seq INTEGER NOT NULL DEFAULT 0
        CHECK (evidence_seq >= 0);
    ALTER TABLE numbers ADD COLUMN evidence_hash BLOB
        CHECK (evidence_hash IS NULL OR length(evidence_hash) = 32);
    UPDATE numbers SET (evidence_last_id, evidence_seq, evidence_hash) =
        (SELECT h.last_id, h.seq, h.hash FROM evidence_heads h
         WHERE h.subject = 'number:' || numbers.id)
    WHERE EXISTS (SELECT 1 FROM evidence_heads h WHERE h.subject = 'number:' || numbers.id);
    DELETE FROM evidence_heads WHERE subject IN (SELECT 'number:' || id FROM numbers);
    "#, // 13: evidence records are appended to the log as runs of consecutive ids, one
    // row per run (normally one per integration) instead of a log_entries row and an
    // index entry per record: a record's entry is its hash, already in `evidence`.
    // Records appended before keep their log_entries rows.
    r#"
    CREATE TABLE log_runs (
        first_idx INTEGER PRIMARY KEY CHECK (first_idx >= 0),
        first_evidence_id INTEGER NOT NULL UNIQUE REFERENCES evidence (id),
        count INTEGER NOT NULL CHECK (count >= 1)
    );
    "#, // 14: sign-in pauses grow when they follow each other (sign_in_locks), and the
    // holder lifts one with an unlock code sent to their phone: the code's nonce and
    // issue time (the code itself is never stored) and the sends of the hour.
    r#"
    ALTER TABLE clients ADD COLUMN sign_in_locks INTEGER NOT NULL DEFAULT 0
        CHECK (sign_in_locks >= 0);
    ALTER TABLE clients ADD COLUMN unlock_nonce BLOB
        CHECK (unlock_nonce IS NULL OR length(unlock_nonce) = 16);
    ALTER TABLE clients ADD COLUMN unlock_issued_at INTEGER;
    ALTER TABLE clients ADD COLUMN unlock_sends INTEGER NOT NULL DEFAULT 0
        CHECK (unlock_sends >= 0);
    ALTER TABLE clients ADD COLUMN unlock_sends_since INTEGER NOT NULL DEFAULT 0;
    "#, // 15: one budget of messages per client, counted from the outbox: each message
    // says what it is for (and, for a number a merchant asked for, which merchant), so
    // that the transaction queuing one more counts the client's last hour by kind.
    // Messages queued before are counted as notices (in the total only). And who a
    // merchant may have a number sent to: the clients who paid it or signed in on one of
    // its checkouts, recorded when they do (and here from the past).
    r#"
    ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'notice'
        CHECK (kind IN ('payment_seal', 'signature_seal', 'client_number', 'merchant_number', 'notice'));
    ALTER TABLE messages ADD COLUMN merchant_id INTEGER REFERENCES merchants (id)
        CHECK ((merchant_id IS NOT NULL) = (kind = 'merchant_number'));
    CREATE INDEX messages_address_time ON messages (address, created_at);
    CREATE INDEX messages_merchant_time ON messages (merchant_id, created_at)
        WHERE merchant_id IS NOT NULL;

    CREATE TABLE merchant_clients (
        merchant_id INTEGER NOT NULL REFERENCES merchants (id),
        client_id INTEGER NOT NULL REFERENCES clients (id),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (merchant_id, client_id)
    ) WITHOUT ROWID;
    INSERT INTO merchant_clients (merchant_id, client_id, created_at)
        SELECT merchant_id, client_id, min(created_at) FROM authorizations
        WHERE captured > 0
           OR id IN (SELECT authorization_id FROM checkouts WHERE authorization_id IS NOT NULL)
        GROUP BY merchant_id, client_id;
    "#,
    // 16: a client may cancel a checkout (open, or held for them): it ends `canceled`,
    // naming that client, with its hold released if it had one. SQLite cannot change a
    // CHECK constraint, so `checkouts` is rebuilt (rows keep their ids, which `webhooks`
    // references; `migrate` runs with foreign keys off and checks them before commit).
    r#"
    CREATE TABLE checkouts_v16 (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        merchant_id INTEGER NOT NULL REFERENCES merchants (id),
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        amount INTEGER NOT NULL CHECK (amount > 0),
        merchant_reference TEXT NOT NULL,
        object TEXT NOT NULL,
        return_url TEXT NOT NULL,
        webhook_url TEXT,
        state TEXT NOT NULL
            CHECK (state IN ('open', 'held', 'paid', 'failed', 'expired', 'canceled')),
        failure TEXT,
        client_id INTEGER REFERENCES clients (id),
        authorization_id INTEGER UNIQUE REFERENCES authorizations (id),
        seal_nonce BLOB CHECK (seal_nonce IS NULL OR length(seal_nonce) = 16),
        seal_digits INTEGER CHECK (seal_digits IS NULL OR seal_digits BETWEEN 6 AND 10),
        seal_issued_at INTEGER,
        seal_expires_at INTEGER,
        seal_wrong_tries INTEGER NOT NULL DEFAULT 0 CHECK (seal_wrong_tries BETWEEN 0 AND 3),
        seal_sends INTEGER NOT NULL DEFAULT 0 CHECK (seal_sends >= 0),
        version INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK ((state IN ('open', 'expired') OR client_id IS NOT NULL)
            AND (state IN ('open', 'expired', 'canceled') OR authorization_id IS NOT NULL)),
        CHECK (state <> 'paid' OR seal_nonce IS NOT NULL)
    );
    INSERT INTO checkouts_v16 SELECT id, public_id, merchant_id, currency, amount,
        merchant_reference, object, return_url, webhook_url, state, failure, client_id,
        authorization_id, seal_nonce, seal_digits, seal_issued_at, seal_expires_at,
        seal_wrong_tries, seal_sends, version, created_at, expires_at, updated_at
        FROM checkouts;
    DROP TABLE checkouts;
    ALTER TABLE checkouts_v16 RENAME TO checkouts;
    CREATE INDEX checkouts_open ON checkouts (expires_at) WHERE state IN ('open', 'held');
    CREATE INDEX checkouts_client ON checkouts (client_id, seal_issued_at) WHERE client_id IS NOT NULL;
    CREATE INDEX checkouts_client_held ON checkouts (client_id, expires_at) WHERE state = 'held';
    "#,
    // 17: the client's wallet: their payments, newest first, a page at a time (the
    // history, read through the client's numbers), and what became of each number's
    // payments (a hold voided or expired is not money used). Created on existing
    // databases as on new ones.
    r#"
    CREATE INDEX authorizations_number ON authorizations (number_id);
    "#,
    // 18: every message tracked: its medium, the life of its secret (`expires_at`: never
    // sent after; a day for the messages queued before), the route that took it, the
    // provider's id of each of its parts (`message_parts`, where receipts are matched),
    // its tries and last error, and its times. `sent` becomes `submitted` (its channel is
    // its route); a failure's reason is its `last_error`. SQLite cannot change a CHECK,
    // so `messages` is rebuilt (rows keep their ids).
    r#"
    CREATE TABLE messages_v18 (
        id INTEGER PRIMARY KEY,
        address TEXT NOT NULL,
        sealed_body BLOB NOT NULL,
        medium TEXT NOT NULL DEFAULT 'sms' CHECK (medium IN ('sms', 'email')),
        kind TEXT NOT NULL DEFAULT 'notice'
            CHECK (kind IN ('payment_seal', 'signature_seal', 'client_number', 'merchant_number', 'notice')),
        merchant_id INTEGER REFERENCES merchants (id)
            CHECK ((merchant_id IS NOT NULL) = (kind = 'merchant_number')),
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'submitted', 'delivered', 'failed', 'expired')),
        route TEXT,
        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_error TEXT,
        claimed_until INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        submitted_at INTEGER,
        ended_at INTEGER,
        expires_at INTEGER NOT NULL,
        CHECK ((state IN ('pending', 'submitted')) = (ended_at IS NULL)),
        CHECK (state NOT IN ('submitted', 'delivered')
            OR (route IS NOT NULL AND submitted_at IS NOT NULL))
    );
    INSERT INTO messages_v18 (id, address, sealed_body, kind, merchant_id, state, route,
        attempts, last_error, claimed_until, created_at, updated_at, submitted_at, ended_at,
        expires_at)
        SELECT id, address, sealed_body, kind, merchant_id,
            CASE state WHEN 'sent' THEN 'submitted' ELSE state END,
            CASE state WHEN 'sent' THEN coalesce(channel, 'unknown') ELSE channel END,
            attempts,
            CASE state WHEN 'failed' THEN substr(reference, 1, 200) END,
            claimed_until, created_at, updated_at,
            CASE state WHEN 'sent' THEN updated_at END,
            CASE state WHEN 'failed' THEN updated_at END,
            created_at + 86400
        FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v18 RENAME TO messages;
    CREATE INDEX messages_pending ON messages (id) WHERE state = 'pending';
    CREATE INDEX messages_address ON messages (address, id);
    CREATE INDEX messages_address_time ON messages (address, created_at);
    CREATE INDEX messages_merchant_time ON messages (merchant_id, created_at)
        WHERE merchant_id IS NOT NULL;
    CREATE INDEX messages_pending_expiry ON messages (expires_at) WHERE state = 'pending';
    CREATE INDEX messages_time ON messages (created_at);

    CREATE TABLE message_parts (
        message_id INTEGER NOT NULL REFERENCES messages (id),
        part INTEGER NOT NULL CHECK (part >= 0),
        route TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('submitted', 'delivered', 'failed')),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (message_id, part)
    ) WITHOUT ROWID;
    CREATE INDEX message_parts_provider ON message_parts (route, provider_id);
    "#,
    // 19: a client may give an e-mail address (checked by `EmailAddress`), where notices
    // go besides the phone.
    r#"
    ALTER TABLE clients ADD COLUMN email TEXT
        CHECK (email IS NULL OR length(CAST(email AS BLOB)) BETWEEN 3 AND 254);
    "#,
    // 20: a client may choose to be called (`by_call`): their messages are of medium
    // `voice`, a call first, an SMS when no call route takes it. SQLite cannot change a
    // CHECK, so `messages` is rebuilt as migration 18 left it (rows keep their ids).
    r#"
    ALTER TABLE clients ADD COLUMN by_call INTEGER NOT NULL DEFAULT 0 CHECK (by_call IN (0, 1));

    CREATE TABLE messages_v20 (
        id INTEGER PRIMARY KEY,
        address TEXT NOT NULL,
        sealed_body BLOB NOT NULL,
        medium TEXT NOT NULL DEFAULT 'sms' CHECK (medium IN ('sms', 'voice', 'email')),
        kind TEXT NOT NULL DEFAULT 'notice'
            CHECK (kind IN ('payment_seal', 'signature_seal', 'client_number', 'merchant_number', 'notice')),
        merchant_id INTEGER REFERENCES merchants (id)
            CHECK ((merchant_id IS NOT NULL) = (kind = 'merchant_number')),
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'submitted', 'delivered', 'failed', 'expired')),
        route TEXT,
        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_error TEXT,
        claimed_until INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        submitted_at INTEGER,
        ended_at INTEGER,
        expires_at INTEGER NOT NULL,
        CHECK ((state IN ('pending', 'submitted')) = (ended_at IS NULL)),
        CHECK (state NOT IN ('submitted', 'delivered')
            OR (route IS NOT NULL AND submitted_at IS NOT NULL))
    );
    INSERT INTO messages_v20 (id, address, sealed_body, medium, kind, merchant_id, state,
        route, attempts, last_error, claimed_until, created_at, updated_at, submitted_at,
        ended_at, expires_at)
        SELECT id, address, sealed_body, medium, kind, merchant_id, state, route, attempts,
            last_error, claimed_until, created_at, updated_at, submitted_at, ended_at,
            expires_at
        FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v20 RENAME TO messages;
    CREATE INDEX messages_pending ON messages (id) WHERE state = 'pending';
    CREATE INDEX messages_address ON messages (address, id);
    CREATE INDEX messages_address_time ON messages (address, created_at);
    CREATE INDEX messages_merchant_time ON messages (merchant_id, created_at)
        WHERE merchant_id IS NOT NULL;
    CREATE INDEX messages_pending_expiry ON messages (expires_at) WHERE state = 'pending';
    CREATE INDEX messages_time ON messages (created_at);
    "#,
    // 21: the notary's envelopes: opened for a disposable certificate (its serial, unique:
    // one envelope per certificate), then the manifest the station signed (canonical
    // JSON and its SHA-256), its files (name, size, SHA-256; when each arrived) and its
    // destinations; a refused envelope keeps only its reason.
    r#"
    CREATE TABLE envelopes (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        client_id INTEGER NOT NULL REFERENCES clients (id),
        state TEXT NOT NULL CHECK (state IN ('open', 'receiving', 'awaiting_seal', 'sealed',
            'notarized', 'refused', 'failed', 'expired')),
        certificate_serial TEXT NOT NULL UNIQUE,
        certificate_expires_at INTEGER NOT NULL,
        manifest TEXT,
        manifest_sha256 BLOB CHECK (manifest_sha256 IS NULL OR length(manifest_sha256) = 32),
        refusal TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK ((manifest IS NULL) = (manifest_sha256 IS NULL)),
        CHECK ((state = 'refused') = (refusal IS NOT NULL)),
        CHECK (state IN ('open', 'refused', 'expired') OR manifest IS NOT NULL)
    );
    CREATE INDEX envelopes_client ON envelopes (client_id, id);
    CREATE TABLE envelope_files (
        envelope_id INTEGER NOT NULL REFERENCES envelopes (id),
        position INTEGER NOT NULL CHECK (position >= 0),
        name TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 255),
        size INTEGER NOT NULL CHECK (size >= 0),
        sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
        received_at INTEGER,
        PRIMARY KEY (envelope_id, position),
        UNIQUE (envelope_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE envelope_destinations (
        envelope_id INTEGER NOT NULL REFERENCES envelopes (id),
        position INTEGER NOT NULL CHECK (position >= 0),
        email TEXT,
        phone TEXT,
        CHECK (email IS NOT NULL OR phone IS NOT NULL),
        PRIMARY KEY (envelope_id, position)
    ) WITHOUT ROWID;
    "#,
    // 22: the notary's archive: a row per object, written once its file is in place
    // under the archive's directory (`archive/ab/cd/<sha256>`), so that a row never
    // stands without its file.
    r#"
    CREATE TABLE archive_objects (
        sha256 BLOB PRIMARY KEY CHECK (length(sha256) = 32),
        size INTEGER NOT NULL CHECK (size >= 0),
        retain_until INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX archive_objects_retention ON archive_objects (retain_until);
    "#,
    // 23: the notary after the upload. A station's disposable certificate (`station`)
    // certifies a key the station holds: no key label, no client, used once (with its
    // envelope's last file) and revoked then; SQLite cannot change a CHECK, so
    // `certificates` is rebuilt (rows keep their serials). An envelope keeps its seal
    // (as signature requests do), the holder certificate the seal consents to, why its
    // signing waits, and its container (archived under its SHA-256); each file its
    // detached signature and, for a PDF, its signed copy (archived) or why there is none.
    r#"
    CREATE TABLE certificates_v23 (
        serial TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('holder', 'pseudonym', 'disposable', 'station')),
        client_id INTEGER REFERENCES clients (id),
        key_label TEXT UNIQUE,
        der BLOB NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        names_serial TEXT REFERENCES certificates (serial),
        used_at INTEGER,
        revoked_at INTEGER,
        revocation_reason INTEGER CHECK (revocation_reason BETWEEN 0 AND 10),
        created_at INTEGER NOT NULL,
        CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL)),
        CHECK ((kind = 'pseudonym') = (names_serial IS NOT NULL)),
        CHECK ((kind IN ('disposable', 'station')) = (client_id IS NULL)),
        CHECK (used_at IS NULL OR kind IN ('disposable', 'station')),
        CHECK ((kind = 'station') = (key_label IS NULL)),
        CHECK (not_before <= not_after)
    );
    INSERT INTO certificates_v23 (serial, kind, client_id, key_label, der, not_before,
        not_after, names_serial, used_at, revoked_at, revocation_reason, created_at)
        SELECT serial, kind, client_id, key_label, der, not_before, not_after, names_serial,
            used_at, revoked_at, revocation_reason, created_at
        FROM certificates;
    DROP TABLE certificates;
    ALTER TABLE certificates_v23 RENAME TO certificates;
    CREATE INDEX certificates_client ON certificates (client_id, created_at) WHERE client_id IS NOT NULL;
    CREATE INDEX certificates_revoked ON certificates (not_after) WHERE revoked_at IS NOT NULL;

    ALTER TABLE envelopes ADD COLUMN signer_serial TEXT;
    ALTER TABLE envelopes ADD COLUMN seal_nonce BLOB CHECK (seal_nonce IS NULL OR length(seal_nonce) = 16);
    ALTER TABLE envelopes ADD COLUMN seal_digits INTEGER;
    ALTER TABLE envelopes ADD COLUMN seal_issued_at INTEGER;
    ALTER TABLE envelopes ADD COLUMN seal_expires_at INTEGER;
    ALTER TABLE envelopes ADD COLUMN wrong_tries INTEGER NOT NULL DEFAULT 0 CHECK (wrong_tries >= 0);
    ALTER TABLE envelopes ADD COLUMN waiting TEXT;
    ALTER TABLE envelopes ADD COLUMN container_sha256 BLOB
        CHECK (container_sha256 IS NULL OR length(container_sha256) = 32);
    ALTER TABLE envelopes ADD COLUMN container_size INTEGER;
    ALTER TABLE envelopes ADD COLUMN container_manifest BLOB;
    ALTER TABLE envelopes ADD COLUMN container_signature BLOB;
    ALTER TABLE envelopes ADD COLUMN retain_until INTEGER;
    ALTER TABLE envelopes ADD COLUMN notarized_at INTEGER;
    ALTER TABLE envelopes ADD COLUMN deleted_at INTEGER;
    ALTER TABLE envelope_files ADD COLUMN signature BLOB;
    ALTER TABLE envelope_files ADD COLUMN signed_at INTEGER;
    ALTER TABLE envelope_files ADD COLUMN signed_pdf_sha256 BLOB
        CHECK (signed_pdf_sha256 IS NULL OR length(signed_pdf_sha256) = 32);
    ALTER TABLE envelope_files ADD COLUMN signed_pdf_size INTEGER;
    ALTER TABLE envelope_files ADD COLUMN pdf_note TEXT;
    CREATE INDEX envelopes_retention ON envelopes (retain_until)
        WHERE retain_until IS NOT NULL AND deleted_at IS NULL;
    "#,
    // 24: the archive keeps small objects' bytes in the database, a row of
    // `archive_contents` beside the object's row; larger ones stay in files. An ordinary
    // (rowid) table: the bytes are not part of any b-tree key, so a search through its
    // index never reads them (a WITHOUT ROWID table would read whole rows to compare
    // keys).
    r#"
    CREATE TABLE archive_contents (
        sha256 BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),
        content BLOB NOT NULL
    );
    "#,
    // 25: an envelope's files become an ordinary (rowid) table. Since each keeps its
    // signature (kilobytes: the chain and the time-stamp), a WITHOUT ROWID table's cells
    // overflowed, and SQLite reads a whole overflowing cell to compare keys: every read of
    // an envelope's files read every signature on the way.
    r#"
    CREATE TABLE envelope_files_v25 (
        envelope_id INTEGER NOT NULL REFERENCES envelopes (id),
        position INTEGER NOT NULL CHECK (position >= 0),
        name TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 255),
        size INTEGER NOT NULL CHECK (size >= 0),
        sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
        received_at INTEGER,
        signature BLOB,
        signed_at INTEGER,
        signed_pdf_sha256 BLOB
            CHECK (signed_pdf_sha256 IS NULL OR length(signed_pdf_sha256) = 32),
        signed_pdf_size INTEGER,
        pdf_note TEXT,
        PRIMARY KEY (envelope_id, position),
        UNIQUE (envelope_id, name)
    );
    INSERT INTO envelope_files_v25 (envelope_id, position, name, size, sha256, received_at,
        signature, signed_at, signed_pdf_sha256, signed_pdf_size, pdf_note)
        SELECT envelope_id, position, name, size, sha256, received_at, signature, signed_at,
            signed_pdf_sha256, signed_pdf_size, pdf_note
        FROM envelope_files ORDER BY envelope_id, position;
    DROP TABLE envelope_files;
    ALTER TABLE envelope_files_v25 RENAME TO envelope_files;
    "#,
    // 26: a phone's messages of the last hour (what its budget counts, by kind and
    // merchant) are read from the index alone, not from each message's row: under the
    // benchmark's lifted limits a phone receives hundreds an hour, each read at random.
    r#"
    CREATE INDEX messages_address_window ON messages (address, created_at, kind, merchant_id);
    DROP INDEX messages_address_time;
    "#,
    // 27: a client's envelopes still open or receiving (counted at each new one, against
    // the limit) are found by an index of those alone, not by reading every envelope
    // the client ever had, manifest and all.
    r#"
    CREATE INDEX envelopes_open ON envelopes (client_id, certificate_expires_at, state)
        WHERE state IN ('open', 'receiving');
    "#,
    // 28: the station's signature over an accepted manifest is kept with it, for the
    // envelope's evidence bundle (envelopes accepted before have none).
    r#"
    ALTER TABLE envelopes ADD COLUMN manifest_signature BLOB
        CHECK (manifest_signature IS NULL OR length(manifest_signature) BETWEEN 1 AND 512);
    "#,
    // 29: certified delivery (issue 21): a delivery of a notarized envelope and its
    // recipients, each with their notice, code, session, withdrawal certificate and
    // answer (and the reminder sent before the deadline); a client is found by their
    // e-mail address (a recipient who is one). Only a digest of the notice's link and of the recipient's session token is
    // kept. `settled_at` is set once every recipient's state is final: the deadline's
    // sweep reads the unsettled alone; `told_state` is the last state the sender was
    // told of by e-mail (the senders' notices are queued from those that differ).
    r#"
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        envelope_id INTEGER NOT NULL REFERENCES envelopes (id),
        client_id INTEGER NOT NULL REFERENCES clients (id),
        deadline_at INTEGER NOT NULL,
        link_base TEXT NOT NULL,
        hide_sender INTEGER NOT NULL CHECK (hide_sender IN (0, 1)),
        created_at INTEGER NOT NULL,
        settled_at INTEGER
    );
    CREATE INDEX deliveries_envelope ON deliveries (envelope_id, id);
    CREATE INDEX deliveries_unsettled ON deliveries (deadline_at) WHERE settled_at IS NULL;
    CREATE TABLE delivery_recipients (
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
        position INTEGER NOT NULL CHECK (position >= 0),
        email TEXT NOT NULL,
        phone TEXT NOT NULL,
        phone_given INTEGER NOT NULL CHECK (phone_given IN (0, 1)),
        client_id INTEGER REFERENCES clients (id),
        contact_salt BLOB NOT NULL CHECK (length(contact_salt) = 16),
        link_sha256 BLOB NOT NULL UNIQUE CHECK (length(link_sha256) = 32),
        state TEXT NOT NULL CHECK (state IN ('notified', 'notice_failed', 'paused',
            'authenticated', 'withdrawn', 'accepted', 'rejected', 'expired')),
        notice_message_id INTEGER,
        notice_sent_at INTEGER,
        code_nonce BLOB CHECK (code_nonce IS NULL OR length(code_nonce) = 16),
        code_digits INTEGER,
        code_issued_at INTEGER,
        code_expires_at INTEGER,
        codes_sent INTEGER NOT NULL DEFAULT 0,
        wrong_tries INTEGER NOT NULL DEFAULT 0,
        paused_until INTEGER,
        session_sha256 BLOB UNIQUE CHECK (session_sha256 IS NULL OR length(session_sha256) = 32),
        session_expires_at INTEGER,
        withdrawal_serial TEXT,
        withdrawals INTEGER NOT NULL DEFAULT 0,
        session_withdrawals INTEGER NOT NULL DEFAULT 0,
        withdrawn_session_sha256 BLOB,
        answer_statement TEXT,
        answer_signature BLOB,
        answer_time_stamp BLOB,
        answered_at INTEGER,
        told_state TEXT,
        reminded_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (delivery_id, position),
        CHECK ((state IN ('accepted', 'rejected')) = (answered_at IS NOT NULL))
    );
    CREATE INDEX clients_email ON clients (lower(email)) WHERE email IS NOT NULL;
    CREATE INDEX delivery_recipients_notice ON delivery_recipients (notice_message_id)
        WHERE notice_message_id IS NOT NULL;
    CREATE INDEX delivery_recipients_to_tell ON delivery_recipients (delivery_id, position)
        WHERE told_state IS NOT state
            AND state IN ('notice_failed', 'paused', 'accepted', 'rejected', 'expired');
    "#,
    // 30: merchants' webhook secrets rotate (issue 23): the version in use, and the one
    // before it with when it stops signing, during an overlap.
    r#"
    ALTER TABLE merchants ADD COLUMN webhook_secret_version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE merchants ADD COLUMN webhook_previous_version INTEGER;
    ALTER TABLE merchants ADD COLUMN webhook_previous_until INTEGER;
    "#,
    // 31: retention (issue 23): the purge finds what ended before its window by these
    // (sessions by expiry, as on PostgreSQL since its first migration).
    r#"
    CREATE INDEX sessions_expiry ON sessions (expires_at);
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
    // 32: the issuer's operators (issue 23): console accounts, with the clients' sign-in
    // counters, and their sessions (purged with the clients').
    r#"
    CREATE TABLE operators (
        id INTEGER PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        sign_in_failures INTEGER NOT NULL DEFAULT 0 CHECK (sign_in_failures >= 0),
        sign_in_locks INTEGER NOT NULL DEFAULT 0 CHECK (sign_in_locks >= 0),
        sign_in_locked_until INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at INTEGER NOT NULL
    );
    CREATE TABLE operator_sessions (
        token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
        operator_id INTEGER NOT NULL REFERENCES operators (id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);
    "#,
];
/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`], each migration in its own transaction.
///
/// A migration that rebuilds a table (SQLite cannot change a constraint) drops it while
/// other tables reference it, so foreign keys are off while migrating (the pragma cannot
/// change inside a transaction) and, on a connection that enforces them, checked before
/// each migration commits (SQLite's own procedure for changing a table).
pub fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    debug_assert!(
        connection.is_autocommit(),
        "these pragmas are ignored in a transaction"
    );
    let enforced: bool = connection.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    let legacy: bool = connection.query_row("PRAGMA legacy_alter_table", [], |row| row.get(0))?;
    connection.pragma_update(None, "foreign_keys", false)?;
    // A rebuilt table is renamed into place: without the legacy rule, the rename rewrites
    // (and fails on) any view or trigger of the operator's that names the old table.
    connection.pragma_update(None, "legacy_alter_table", true)?;
    let migrated = migrate_from(connection, found, enforced);
    connection.pragma_update(None, "legacy_alter_table", legacy)?;
    connection.pragma_update(None, "foreign_keys", enforced)?;
    migrated
}

fn migrate_from(connection: &mut Connection, found: i64, enforced: bool) -> Result<(), StoreError> {
    // A row already without the row it references (written with foreign keys off, by
    // hand) is said to be so, rather than blamed on the first migration that checks.
    if enforced
        && (found as usize) < MIGRATIONS.len()
        && let Some(table) = orphan(connection)?
    {
        return Err(StoreError::Corrupt(format!(
            "before migrating, a row of {table} is without the row it references"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(migration)?;
        if enforced && let Some(table) = orphan(&transaction)? {
            return Err(StoreError::Corrupt(format!(
                "migration {} leaves a row of {table} without the row it references",
                index + 1
            )));
        }
        transaction.pragma_update(None, "user_version", index as i64 + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

/// The first table with a row whose foreign key finds no row, if any.
fn orphan(connection: &Connection) -> Result<Option<String>, StoreError> {
    Ok(connection
        .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
        .optional()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn count(connection: &Connection, sql: &str) -> i64 {
        connection.query_row(sql, [], |row| row.get(0)).unwrap()
    }
    /// The wallet's reads find a client's payments through their numbers and a number's
    /// payments by migration 17's index, not by reading every authorization.
    #[test]
    fn the_wallets_reads_use_their_indexes() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection).unwrap();
        let plan = |sql: &crate::sql::Sql, arguments: &[i64]| -> String {
            let mut statement = connection
                .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.sqlite()))
                .unwrap();
            let details = statement
                .query_map(rusqlite::params_from_iter(arguments), |row| {
                    row.get::<_, String>(3)
                })
                .unwrap();
            details.collect::<Result<Vec<_>, _>>().unwrap().join("\n")
        };
        let payments = plan(&crate::ops::reads::CLIENT_PAYMENTS, &[1, 2, 3]);
        assert!(payments.contains("numbers_client"), "{payments}");
        assert!(payments.contains("authorizations_number"), "{payments}");
        assert!(!payments.contains("SCAN au"), "{payments}");
        assert!(!payments.contains("SCAN n"), "{payments}");
        let numbers = plan(&crate::ops::reads::NUMBERS_USED, &[1, 2]);
        assert!(numbers.contains("authorizations_number"), "{numbers}");
        assert!(!numbers.contains("SCAN au"), "{numbers}");
    }

    /// A database of version 3 with money in it comes through migration 4 whole: the
    /// rebuilt `transfers` keeps its rows, ids and constraints, and takes payouts only
    /// with their batch.
    #[test]
    fn migration_4_rebuilds_transfers_with_their_rows() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .unwrap();
        for migration in &MIGRATIONS[..3] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 3).unwrap();
        connection
            .execute_batch(
                "INSERT INTO accounts (id, kind, owner_id, currency, balance) VALUES \
                 (1, 'funding', NULL, 'EUR', -500), (2, 'client', 1, 'EUR', 300), (3, 'merchant', 1, 'EUR', 200); \
                 INSERT INTO merchants (id, name, api_key_hash, created_at) VALUES (1, 'Shop', x'01', 10); \
                 INSERT INTO transfers (id, debit_account, credit_account, amount, currency, kind, authorization_id, created_at) \
                 VALUES (7, 1, 2, 500, 'EUR', 'opening', NULL, 10), (9, 2, 3, 200, 'EUR', 'capture', 4, 11);",
            )
            .unwrap();

        migrate(&mut connection).unwrap();

        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let rows: Vec<(i64, String, Option<i64>, Option<i64>)> = connection
            .prepare(
                "SELECT id, kind, authorization_id, clearing_batch_id FROM transfers ORDER BY id",
            )
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (7, "opening".to_owned(), None, None),
                (9, "capture".to_owned(), Some(4), None)
            ]
        );
        assert_eq!(
            count(&connection, "SELECT count(*) FROM pragma_foreign_key_check"),
            0
        );
        assert_eq!(
            count(
                &connection,
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'transfers' \
                 AND name IN ('transfers_authorization', 'transfers_clearing')"
            ),
            2
        );

        let insert = "INSERT INTO transfers (debit_account, credit_account, amount, currency, kind, created_at, clearing_batch_id) \
                      VALUES (3, 1, 200, 'EUR', ?1, 12, ?2)";
        let refused = |kind: &str, batch: Option<i64>| {
            connection
                .execute(insert, rusqlite::params![kind, batch])
                .is_err()
        };
        assert!(refused("payout", None), "a payout needs its batch");
        assert!(refused("payout", Some(1)), "the batch must exist");
        assert!(
            refused("capture", Some(1)),
            "only payouts belong to a batch"
        );
        assert!(refused("bonus", None), "kinds are still checked");
        connection
            .execute_batch(
                "INSERT INTO clearing_batches (id, message_id, currency, payouts_count, total, settlement_file, created_at) \
                 VALUES (1, 'M1', 'EUR', 1, 200, '<Document/>', 12)",
            )
            .unwrap();
        assert!(!refused("payout", Some(1)));
        assert!(
            refused("payout", Some(1)),
            "one payout per account and batch"
        );

        let bank = |iban: Option<&str>, bic: Option<&str>| {
            connection
                .execute(
                    "UPDATE merchants SET iban = ?1, bic = ?2 WHERE id = 1",
                    rusqlite::params![iban, bic],
                )
                .is_ok()
        };
        assert!(!bank(Some("FR7630006000011234567890189"), None));
        assert!(bank(Some("FR7630006000011234567890189"), Some("AGRIFRPP")));
        assert!(bank(None, None));
    }

    /// A database of version 9 whose log queue holds evidence records comes through
    /// migration 10 with each record appended once, after those already in the log, and
    /// the queue's other entries kept.
    #[test]
    fn migration_10_integrates_queued_records_once_from_evidence() {
        let mut connection = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..9] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 9).unwrap();
        let hash = |n: u8| vec![n; 32];
        let mut record = connection
            .prepare(
                "INSERT INTO evidence (id, subject, seq, prev_id, type, hash, record, created_at) \
                 VALUES (?1, 's', ?1, ?2, 't', ?3, x'7b7d', 1)",
            )
            .unwrap();
        for id in 1..=3_i64 {
            record
                .execute(rusqlite::params![
                    id,
                    (id > 1).then(|| id - 1),
                    hash(id as u8)
                ])
                .unwrap();
        }
        drop(record);
        connection
            .execute_batch(
                "INSERT INTO log_entries (idx, entry, created_at, evidence_id) VALUES \
                 (0, x'0101010101010101010101010101010101010101010101010101010101010101', 1, 1); \
                 INSERT INTO log_pending (id, entry, created_at, evidence_id) VALUES \
                 (5, x'0202020202020202020202020202020202020202020202020202020202020202', 1, 2), \
                 (6, x'aa', 1, NULL), \
                 (7, x'0303030303030303030303030303030303030303030303030303030303030303', 1, 3);",
            )
            .unwrap();
        let mut frontier = sceau_log::Frontier::default();
        frontier.append(&[sceau_log::leaf_hash(&hash(1))]).unwrap();
        connection
            .execute(
                "UPDATE log_state SET size = 1, frontier = ?1",
                [crate::log::frontier_to_stored(&frontier)],
            )
            .unwrap();

        migrate(&mut connection).unwrap();
        let integrate = |connection: &Connection| {
            crate::sqlite::log::integrate(
                connection,
                &crate::model::IntegrateLog {
                    batch_max: 100,
                    sign: Box::new(|size, _| format!("size {size}")),
                    now_s: 2,
                },
            )
            .unwrap()
        };
        let integrated = integrate(&connection).unwrap();

        assert_eq!(integrated.size, 4);
        let entries = crate::sqlite::log::entry_range(&connection, 0, 10).unwrap();
        assert_eq!(
            entries,
            vec![(0, hash(1)), (1, vec![0xaa]), (2, hash(2)), (3, hash(3)),]
        );
        // The records queued before are appended as a run of the log (migration 13).
        assert_eq!(
            crate::sqlite::log::tests::stored_runs(&connection),
            vec![(2, 2, 2)]
        );
        assert_eq!(count(&connection, "SELECT count(*) FROM log_pending"), 0);
        let leaves: Vec<[u8; 32]> = entries
            .iter()
            .map(|(_, entry)| sceau_log::leaf_hash(entry))
            .collect();
        let mut expected = sceau_log::Frontier::default();
        expected.append(&leaves).unwrap();
        assert_eq!(integrated.root, expected.root());
        assert!(
            integrate(&connection).is_none(),
            "nothing is appended twice"
        );
    }

    /// A row left without the row it references (by the sqlite3 shell, which does not
    /// enforce foreign keys) stops the upgrade with that said, and nothing is migrated.
    #[test]
    fn a_row_without_its_reference_stops_the_migration_and_is_named() {
        let mut connection = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..15] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 15).unwrap();
        // Written with foreign keys off, as the sqlite3 shell does by default.
        connection
            .pragma_update(None, "foreign_keys", "OFF")
            .unwrap();
        connection
            .execute_batch(
                "INSERT INTO webhooks (merchant_id, checkout_id, url, event, body, state, \
                 next_attempt_at, created_at, updated_at) VALUES \
                 (1, 7, 'https://shop.example/hook', 'checkout.expired', '{}', 'pending', 9, 9, 9);",
            )
            .unwrap();
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .unwrap();
        match migrate(&mut connection) {
            Err(StoreError::Corrupt(detail)) => {
                assert!(
                    detail.contains("before migrating") && detail.contains("webhooks"),
                    "{detail}"
                )
            }
            other => panic!("{other:?}"),
        }
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, 15, "nothing was migrated");
    }

    /// Migration 16 rebuilds `checkouts` under foreign keys: its rows keep their ids (the
    /// webhooks still name them), a canceled checkout must name its client, and the
    /// connection enforces foreign keys again afterwards.
    #[test]
    fn migration_16_rebuilds_checkouts_with_their_rows() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .unwrap();
        for migration in &MIGRATIONS[..15] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 15).unwrap();
        connection
            .execute_batch(
                "INSERT INTO merchants (id, name, api_key_hash, created_at) VALUES (1, 'Shop', x'01', 10); \
                 INSERT INTO checkouts (id, public_id, merchant_id, currency, amount, merchant_reference, \
                 object, return_url, state, failure, created_at, expires_at, updated_at) VALUES \
                 (7, 'co_7', 1, 'EUR', 500, 'cart', 'books', 'https://shop.example/', 'expired', \
                 'checkout_expired', 6, 9, 9); \
                 INSERT INTO webhooks (merchant_id, checkout_id, url, event, body, state, \
                 next_attempt_at, created_at, updated_at) VALUES \
                 (1, 7, 'https://shop.example/hook', 'checkout.expired', '{}', 'pending', 9, 9, 9);",
            )
            .unwrap();

        migrate(&mut connection).unwrap();

        assert_eq!(
            count(
                &connection,
                "SELECT count(*) FROM checkouts WHERE id = 7 AND state = 'expired'"
            ),
            1
        );
        assert_eq!(
            count(
                &connection,
                "SELECT count(*) FROM webhooks w JOIN checkouts ch ON ch.id = w.checkout_id"
            ),
            1
        );
        let enforced: bool = connection
            .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
            .unwrap();
        assert!(enforced);
        let canceled_by_nobody =
            connection.execute("UPDATE checkouts SET state = 'canceled' WHERE id = 7", []);
        assert!(canceled_by_nobody.is_err());
        let orphan = connection.execute(
            "INSERT INTO webhooks (merchant_id, checkout_id, url, event, body, state, \
             next_attempt_at, created_at, updated_at) \
             VALUES (1, 8, 'https://shop.example/hook', 'x', '{}', 'pending', 9, 9, 9)",
            [],
        );
        assert!(orphan.is_err());
    }

    /// Migration 15 makes the clients who paid a merchant, or signed in on one of its
    /// checkouts, that merchant's clients, and nobody else; the messages queued before
    /// count as notices.
    #[test]
    fn migration_15_finds_each_merchants_clients_in_the_past() {
        let mut connection = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..14] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 14).unwrap();
        // Authorizations without their numbers and accounts: this is about who paid whom.
        connection
            .pragma_update(None, "foreign_keys", false)
            .unwrap();
        connection
            .execute_batch(
                "INSERT INTO authorizations (id, merchant_id, number_id, client_id, debit_account, \
                 credit_account, currency, amount, captured, state, merchant_reference, created_at, \
                 hold_expires_at, updated_at) VALUES \
                 (1, 10, 1, 100, 1, 2, 'EUR', 500, 500, 'captured', 'paid', 7, 9, 8), \
                 (2, 10, 2, 100, 1, 2, 'EUR', 500, 300, 'captured', 'paid again', 5, 9, 8), \
                 (3, 11, 3, 101, 1, 2, 'EUR', 500, 0, 'voided', 'voided', 5, 9, 8), \
                 (4, 12, 4, 101, 1, 2, 'EUR', 500, 0, 'authorized', 'held', 6, 9, 6), \
                 (5, 11, 5, 102, 1, 2, 'EUR', 500, 0, 'authorized', 'held only', 6, 9, 6); \
                 INSERT INTO checkouts (id, public_id, merchant_id, currency, amount, merchant_reference, \
                 object, return_url, state, client_id, authorization_id, created_at, expires_at, \
                 updated_at) VALUES \
                 (1, 'co_1', 12, 'EUR', 500, 'cart', 'books', 'https://shop.example/', 'held', 101, 4, 6, 9, 6); \
                 INSERT INTO messages (address, sealed_body, state, created_at, updated_at) \
                 VALUES ('+33612345678', x'00', 'sent', 4, 4);",
            )
            .unwrap();

        migrate(&mut connection).unwrap();

        let pairs: Vec<(i64, i64, i64)> = connection
            .prepare(
                "SELECT merchant_id, client_id, created_at FROM merchant_clients ORDER BY 1, 2",
            )
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // 100 paid 10 (first at 5); 101 signed in on 12's checkout; a voided payment and
        // an uncaptured one make nobody a client.
        assert_eq!(pairs, vec![(10, 100, 5), (12, 101, 6)]);
        let kinds: Vec<(String, Option<i64>)> = connection
            .prepare("SELECT kind, merchant_id FROM messages")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kinds, vec![("notice".to_owned(), None)]);
        // A merchant's number names its merchant, and only it does.
        let queue = |kind: &str, merchant: Option<i64>| {
            connection
                .execute(
                    "INSERT INTO messages (address, sealed_body, state, kind, merchant_id, created_at, updated_at, expires_at) \
                     VALUES ('+33612345678', x'00', 'pending', ?1, ?2, 9, 9, 99)",
                    rusqlite::params![kind, merchant],
                )
                .is_ok()
        };
        assert!(queue("merchant_number", Some(10)));
        assert!(!queue("merchant_number", None));
        assert!(!queue("payment_seal", Some(10)));
        assert!(!queue("seal", None));
    }

    /// A database of version 17 with messages queued, sent and failed comes through
    /// migration 18 whole: ids kept, `sent` is `submitted` on its channel as its route,
    /// a failure's reason is its last error, each lives a day from its creation; and the
    /// new rules hold from then on.
    #[test]
    fn migration_18_tracks_the_messages_already_queued() {
        let mut connection = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..17] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 17).unwrap();
        connection
            .execute_batch(
                "INSERT INTO messages (id, address, sealed_body, state, channel, reference, \
                 attempts, kind, created_at, updated_at, claimed_until) VALUES \
                 (3, '+33612345678', x'01', 'pending', NULL, NULL, 0, 'client_number', 100, 100, 115), \
                 (5, '+33612345678', x'02', 'sent', 'dev-phone', 'dev-5', 1, 'payment_seal', 200, 210, 215), \
                 (8, '+33687654321', x'03', 'failed', 'dev-phone', 'refused', 1, 'notice', 300, 320, 0);",
            )
            .unwrap();

        migrate(&mut connection).unwrap();

        type Row = (i64, String, String, Option<String>, i64, Option<String>);
        type Times = (Option<i64>, Option<i64>, i64, i64, Vec<u8>);
        let rows: Vec<(Row, Times)> = connection
            .prepare(
                "SELECT id, medium, state, route, attempts, last_error, submitted_at, ended_at, \
                 expires_at, claimed_until, sealed_body FROM messages ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    (
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ),
                    (r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?),
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
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
        let accepts = |sql: &str| connection.execute_batch(sql).is_ok();
        assert!(!accepts(
            "INSERT INTO messages (address, sealed_body, state, created_at, updated_at, expires_at) \
             VALUES ('+33612345678', x'00', 'sent', 9, 9, 99)"
        ));
        assert!(
            !accepts(
                "INSERT INTO messages (address, sealed_body, state, created_at, updated_at) \
                 VALUES ('+33612345678', x'00', 'pending', 9, 9)"
            ),
            "a new message says when it expires"
        );
        assert!(!accepts(
            "INSERT INTO messages (address, sealed_body, state, created_at, updated_at, expires_at) \
             VALUES ('+33612345678', x'00', 'delivered', 9, 9, 99)"
        ));
        assert!(accepts(
            "INSERT INTO message_parts (message_id, part, route, provider_id, state, updated_at) \
             VALUES (5, 0, 'dev-phone', 'dev-5', 'submitted', 210)"
        ));
    }

    /// Migration 20 rebuilds `messages` to take the medium `voice`: every row comes
    /// through unchanged (its parts still point at it), clients are not called unless
    /// they choose it, and the other rules still hold.
    #[test]
    fn migration_20_keeps_every_message_and_takes_calls() {
        let mut connection = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..19] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 19).unwrap();
        connection
            .pragma_update(None, "foreign_keys", false)
            .unwrap();
        connection
            .execute_batch(
                "INSERT INTO clients (id, login, display_name, password_hash, phone, account_id, \
                 created_at) VALUES (1, 'alice', 'Alice', 'h', '+33612345678', 1, 1); \
                 INSERT INTO messages (id, address, sealed_body, medium, state, kind, route, \
                 attempts, last_error, claimed_until, created_at, updated_at, submitted_at, \
                 ended_at, expires_at) VALUES \
                 (3, '+33612345678', x'01', 'sms', 'pending', 'client_number', 'smsc', 2, 'no bind', 115, 100, 101, NULL, NULL, 400), \
                 (5, 'a@example.org', x'02', 'email', 'delivered', 'notice', 'relay', 1, NULL, 0, 200, 210, 205, 210, 500); \
                 INSERT INTO message_parts (message_id, part, route, provider_id, state, updated_at) \
                 VALUES (5, 0, 'relay', 'p-5', 'delivered', 210);",
            )
            .unwrap();
        let dump = |connection: &Connection| {
            texts(
                connection,
                "SELECT quote(id) || '|' || address || '|' || hex(sealed_body) || '|' || medium || '|' || state || '|' || kind || '|' || coalesce(route, '-') || '|' || attempts || '|' || coalesce(last_error, '-') || '|' || claimed_until || '|' || created_at || '|' || updated_at || '|' || coalesce(submitted_at, '-') || '|' || coalesce(ended_at, '-') || '|' || expires_at FROM messages ORDER BY id",
            )
        };
        let before = dump(&connection);
        assert_eq!(before.len(), 2);

        migrate(&mut connection).unwrap();

        assert_eq!(dump(&connection), before);
        let by_call: i64 = connection
            .query_row("SELECT by_call FROM clients WHERE id = 1", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(by_call, 0);
        let parted: i64 = connection
            .query_row(
                "SELECT count(*) FROM message_parts p JOIN messages m ON m.id = p.message_id",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(parted, 1);
        let accepts = |sql: &str| connection.execute_batch(sql).is_ok();
        assert!(accepts(
            "INSERT INTO messages (address, sealed_body, medium, state, created_at, updated_at, \
             expires_at) VALUES ('+33612345678', x'00', 'voice', 'pending', 9, 9, 99)"
        ));
        assert!(!accepts(
            "INSERT INTO messages (address, sealed_body, medium, state, created_at, updated_at, \
             expires_at) VALUES ('+33612345678', x'00', 'fax', 'pending', 9, 9, 99)"
        ));
        assert!(!accepts(
            "INSERT INTO messages (address, sealed_body, state, created_at, updated_at, expires_at) \
             VALUES ('+33612345678', x'00', 'delivered', 9, 9, 99)"
        ));
        assert!(!accepts("UPDATE clients SET by_call = 2 WHERE id = 1"));
    }

    /// Whether SQLite's plan for `sql` (with `params` bound) reads the index `index`
    /// alone, never a table row; the plan is in the failure's message.
    fn reads_index_alone(sql: &crate::sql::Sql, params: impl rusqlite::Params, index: &str) {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection).unwrap();
        let plan: Vec<String> = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.sqlite()))
            .unwrap()
            .query_map(params, |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let covering = format!("USING COVERING INDEX {index}");
        assert!(plan.iter().any(|step| step.contains(&covering)), "{plan:?}");
    }

    /// A client's open envelopes are counted from the index of open envelopes alone.
    #[test]
    fn the_open_envelopes_of_a_client_are_counted_from_an_index_alone() {
        reads_index_alone(
            &crate::ops::envelopes::OPEN_OF_CLIENT,
            [1, 0],
            "envelopes_open",
        );
    }

    /// A phone's budget counts its messages of the hour from the index alone.
    #[test]
    fn the_hour_of_a_phone_is_counted_from_an_index_alone() {
        reads_index_alone(
            &crate::ops::outbox::SENT_THIS_HOUR,
            ["+33600000000", "0", "1"],
            "messages_address_window",
        );
    }

    /// The one text column of each row `sql` reads (a table dumped, to compare it across
    /// a migration).
    fn texts(connection: &Connection, sql: &str) -> Vec<String> {
        connection
            .prepare(sql)
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A database migrated to `version` (foreign keys enforced), with the client alice
    /// (id 1) and her account.
    fn with_alice_at(version: usize) -> Connection {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .unwrap();
        for migration in &MIGRATIONS[..version] {
            connection.execute_batch(migration).unwrap();
        }
        connection
            .pragma_update(None, "user_version", version as i64)
            .unwrap();
        connection
            .execute_batch(
                "INSERT INTO accounts (id, kind, owner_id, currency) VALUES (1, 'client', 1, 'EUR'); \
                 INSERT INTO clients (id, login, display_name, password_hash, phone, account_id, \
                 created_at) VALUES (1, 'alice', 'Alice', 'h', '+33612345678', 1, 1);",
            )
            .unwrap();
        connection
    }

    /// Migration 25 rebuilds `envelope_files` as a rowid table: every file comes through
    /// unchanged with its signature, and its keys and rules still hold (one file per
    /// position, one name per envelope, its envelope must exist).
    #[test]
    fn migration_25_rebuilds_envelope_files_with_their_rows() {
        let mut connection = with_alice_at(24);
        connection
            .execute_batch(
                "INSERT INTO certificates (serial, kind, client_id, key_label, der, not_before, \
                 not_after, created_at) VALUES ('0c01', 'station', NULL, NULL, x'03', 10, 600, 10); \
                 INSERT INTO envelopes (id, public_id, client_id, state, certificate_serial, \
                 certificate_expires_at, created_at, updated_at) \
                 VALUES (7, 'env_1', 1, 'open', '0c01', 600, 15, 15); \
                 INSERT INTO envelope_files (envelope_id, position, name, size, sha256, \
                 received_at, signature, signed_at, signed_pdf_sha256, signed_pdf_size, pdf_note) \
                 VALUES (7, 0, 'a.pdf', 3, zeroblob(32), 20, randomblob(5000), 30, \
                 randomblob(32), 9, NULL), \
                 (7, 1, 'b.txt', 0, randomblob(32), NULL, NULL, NULL, NULL, NULL, 'not a PDF');",
            )
            .unwrap();
        let dump = |connection: &Connection| {
            texts(
                connection,
                "SELECT envelope_id || '|' || position || '|' || name || '|' || size || '|' || \
                     hex(sha256) || '|' || quote(received_at) || '|' || quote(signature) || '|' || \
                     quote(signed_at) || '|' || quote(signed_pdf_sha256) || '|' || \
                     quote(signed_pdf_size) || '|' || quote(pdf_note) \
                     FROM envelope_files ORDER BY envelope_id, position",
            )
        };
        let before = dump(&connection);
        assert_eq!(before.len(), 2);

        migrate(&mut connection).unwrap();

        assert_eq!(count(&connection, "PRAGMA user_version"), SCHEMA_VERSION);
        assert_eq!(dump(&connection), before);
        let table: String = connection
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'envelope_files'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(!table.contains("WITHOUT ROWID"), "{table}");
        let accepts = |sql: &str| connection.execute_batch(sql).is_ok();
        assert!(!accepts(
            "INSERT INTO envelope_files (envelope_id, position, name, size, sha256) \
             VALUES (7, 1, 'c.txt', 0, zeroblob(32))"
        ));
        assert!(!accepts(
            "INSERT INTO envelope_files (envelope_id, position, name, size, sha256) \
             VALUES (7, 2, 'a.pdf', 0, zeroblob(32))"
        ));
        assert!(!accepts(
            "INSERT INTO envelope_files (envelope_id, position, name, size, sha256) \
             VALUES (8, 0, 'a.pdf', 0, zeroblob(32))"
        ));
        assert!(accepts(
            "INSERT INTO envelope_files (envelope_id, position, name, size, sha256) \
             VALUES (7, 2, 'c.txt', 0, zeroblob(32))"
        ));
    }

    /// Migration 23 rebuilds `certificates` to take a station's certificate: every row
    /// comes through unchanged under its serial (the rows that name one still find it,
    /// foreign keys enforced), its indexes are back, and the old rules hold beside the
    /// new ones: a station's certificate has no key label and no client, only it and a
    /// disposable one are used.
    #[test]
    fn migration_23_rebuilds_certificates_with_their_rows() {
        let mut connection = with_alice_at(22);
        connection
            .execute_batch(
                "INSERT INTO certificates (serial, kind, client_id, key_label, der, not_before, \
                 not_after, names_serial, used_at, revoked_at, revocation_reason, created_at) VALUES \
                 ('0a01', 'holder', 1, 'key-0a01', x'01', 10, 1000, NULL, NULL, 40, 1, 10), \
                 ('0a02', 'pseudonym', 1, 'key-0a02', x'02', 10, 1000, '0a01', NULL, NULL, NULL, 10), \
                 ('0c01', 'disposable', NULL, 'key-0c01', x'03', 10, 600, NULL, 20, 21, 5, 10); \
                 INSERT INTO signature_requests (id, public_id, client_id, document_name, \
                 certificate_serial, content_digest, state, seal_nonce, seal_digits, \
                 seal_issued_at, seal_expires_at, created_at) VALUES (4, 'sr_1', 1, 'a.pdf', \
                 '0a02', zeroblob(32), 'awaiting_seal', zeroblob(16), 8, 30, 330, 30); \
                 INSERT INTO envelopes (id, public_id, client_id, state, certificate_serial, \
                 certificate_expires_at, created_at, updated_at) \
                 VALUES (7, 'env_1', 1, 'open', '0c01', 600, 15, 15);",
            )
            .unwrap();
        let dump = |connection: &Connection| {
            texts(
                connection,
                "SELECT serial || '|' || kind || '|' || quote(client_id) || '|' || \
                     quote(key_label) || '|' || hex(der) || '|' || not_before || '|' || \
                     not_after || '|' || quote(names_serial) || '|' || quote(used_at) || '|' || \
                     quote(revoked_at) || '|' || quote(revocation_reason) || '|' || created_at \
                     FROM certificates ORDER BY serial",
            )
        };
        let before = dump(&connection);
        assert_eq!(before.len(), 3);

        migrate(&mut connection).unwrap();

        assert_eq!(count(&connection, "PRAGMA user_version"), SCHEMA_VERSION);
        assert_eq!(dump(&connection), before);
        assert_eq!(
            count(&connection, "SELECT count(*) FROM pragma_foreign_key_check"),
            0
        );
        assert_eq!(
            count(
                &connection,
                "SELECT count(*) FROM signature_requests s JOIN certificates c \
                 ON c.serial = s.certificate_serial JOIN certificates h ON h.serial = c.names_serial"
            ),
            1
        );
        assert_eq!(
            count(
                &connection,
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'certificates' \
                 AND name IN ('certificates_client', 'certificates_revoked')"
            ),
            2
        );
        assert_eq!(
            count(
                &connection,
                "SELECT wrong_tries FROM envelopes WHERE id = 7"
            ),
            0
        );

        let insert = |serial: &str, kind: &str, client: Option<i64>, label: Option<&str>| {
            connection
                .execute(
                    "INSERT INTO certificates (serial, kind, client_id, key_label, der, not_before, \
                     not_after, created_at) VALUES (?1, ?2, ?3, ?4, x'00', 10, 600, 50)",
                    rusqlite::params![serial, kind, client, label],
                )
                .is_ok()
        };
        assert!(insert("5a01", "station", None, None));
        assert!(!insert("5a02", "station", None, Some("key-5a02")));
        assert!(!insert("5a03", "station", Some(1), None));
        assert!(!insert("5a04", "holder", Some(1), None));
        assert!(!insert("5a05", "disposable", Some(1), Some("key-5a05")));
        assert!(!insert("5a06", "stamp", None, None));
        assert!(!insert("0a01", "disposable", None, Some("key-other")));
        assert!(
            !insert("5a07", "disposable", None, Some("key-0c01")),
            "a key label is still unique"
        );
        assert!(
            !insert("5a08", "pseudonym", Some(1), Some("key-5a08")),
            "a pseudonym still names its certificate"
        );
        let used = |serial: &str| {
            connection
                .execute(
                    "UPDATE certificates SET used_at = 60 WHERE serial = ?1",
                    [serial],
                )
                .is_ok()
        };
        assert!(used("5a01"));
        assert!(!used("0a01"), "only a disposable or a station's is used");
        let names_unknown = connection.execute(
            "INSERT INTO certificates (serial, kind, client_id, key_label, der, not_before, \
             not_after, names_serial, created_at) VALUES ('5a09', 'pseudonym', 1, 'key-5a09', \
             x'00', 10, 600, 'ffff', 50)",
            [],
        );
        assert!(names_unknown.is_err(), "foreign keys still hold");
    }

    /// A database of version 11 keeps a number's head in evidence_heads: migration 12
    /// moves it onto the number's row, leaves other subjects' heads where they are, and
    /// the number's chain goes on from it.
    #[test]
    fn migration_12_moves_numbers_heads_onto_their_rows() {
        let mut connection = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..11] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 11).unwrap();
        // Numbers without their clients and accounts: this is about the heads.
        connection
            .pragma_update(None, "foreign_keys", false)
            .unwrap();
        connection
            .execute_batch(
                "INSERT INTO numbers (id, client_id, account_id, currency, fingerprint, \
                 details_fingerprint, last_four, expiry_month, expiry_year, origin, uses_max, \
                 amount_rule, merchant_lock, valid_until, state, created_at) VALUES \
                 (5, 1, 1, 'EUR', x'01', x'02', '4242', 1, 2030, 'client', 3, 'any', 'any', 9, 'live', 1), \
                 (6, 1, 1, 'EUR', x'03', x'04', '1234', 1, 2030, 'client', 3, 'any', 'any', 9, 'live', 1); \
                 INSERT INTO evidence (id, subject, seq, prev_id, type, hash, record, created_at) VALUES \
                 (1, 'number:5', 1, NULL, 'number.issued', zeroblob(32), x'7b7d', 1), \
                 (2, 'checkout:9', 1, NULL, 'seal.sent', zeroblob(32), x'7b7d', 1); \
                 UPDATE evidence SET hash = x'0101010101010101010101010101010101010101010101010101010101010101' \
                 WHERE id = 1; \
                 INSERT INTO evidence_heads (subject, last_id, seq, hash) \
                 SELECT subject, id, seq, hash FROM evidence;",
            )
            .unwrap();

        migrate(&mut connection).unwrap();

        let head = |id: i64| -> (Option<i64>, i64, Option<Vec<u8>>) {
            connection
                .query_row(
                    "SELECT evidence_last_id, evidence_seq, evidence_hash FROM numbers WHERE id = ?1",
                    [id],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .unwrap()
        };
        assert_eq!(head(5), (Some(1), 1, Some(vec![1; 32])));
        assert_eq!(
            head(6),
            (None, 0, None),
            "a number without records has no head"
        );
        let keyed: Vec<String> = connection
            .prepare("SELECT subject FROM evidence_heads")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keyed, vec!["checkout:9".to_owned()]);

        let view = crate::model::AuthorizationView {
            id: 3,
            merchant_id: 2,
            number_id: 5,
            number_last_four: "4242".into(),
            client_id: 1,
            currency: "EUR".into(),
            amount: 100,
            captured: 0,
            refunded: 0,
            state: sceau_domain::ledger::AuthorizationState::Authorized,
            merchant_reference: "ref".into(),
            created_at_s: 1,
            hold_expires_at_s: 9,
        };
        let voided =
            crate::evidence::authorization(&view, crate::evidence::AuthorizationEvent::Voided, 2)
                .unwrap();
        let written = crate::sqlite::evidence::write(&connection, voided).unwrap();
        assert_eq!(written.seq, 2);
        let record: serde_json::Value = serde_json::from_slice(&written.record).unwrap();
        assert_eq!(record["prev"], "01".repeat(32));
        assert_eq!(head(5), (Some(written.id), 2, Some(written.hash.to_vec())));
        let chain = crate::sqlite::evidence::of_subject(&connection, "number:5").unwrap();
        assert_eq!(
            chain.iter().map(|r| (r.id, r.seq)).collect::<Vec<_>>(),
            vec![(1, 1), (written.id, 2)]
        );
        let other = crate::sqlite::evidence::of_subject(&connection, "checkout:9").unwrap();
        assert_eq!(other.iter().map(|r| r.id).collect::<Vec<_>>(), vec![2]);
        // A number's record without its number is refused, not chained from nowhere.
        let orphan = crate::evidence::authorization(
            &crate::model::AuthorizationView {
                number_id: 99,
                ..view
            },
            crate::evidence::AuthorizationEvent::Voided,
            2,
        )
        .unwrap();
        assert!(matches!(
            crate::sqlite::evidence::write(&connection, orphan),
            Err(StoreError::Corrupt(_))
        ));
    }
}
