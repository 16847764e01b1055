-- The agent's side (issue #5): outbox, handoffs, templates, consent,
-- resolution with disposition and next action.

-- Every outbound effect is a row written in the same transaction as the
-- change that causes it, delivered by a worker with a lease. The
-- idempotency key is unique, so writing the same effect twice is a no-op.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    kind             TEXT    NOT NULL,             -- whatsapp_message | whatsapp_read
    idempotency_key  TEXT    NOT NULL UNIQUE,
    conversation_id  INTEGER REFERENCES conversations (id),
    message_id       INTEGER REFERENCES messages (id),
    phone_number_id  TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    payload          TEXT    NOT NULL,             -- the Graph API request body
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    locked_until     INTEGER,
    locked_by        TEXT,
    last_error       TEXT,
    last_code        INTEGER,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';

-- Context handed to the receiving agent, who must acknowledge it before
-- replying (seeds: "the receiving agent must be required to acknowledge
-- receipt of that context before initiating contact").
CREATE TABLE handoffs (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id),
    from_agent_id    INTEGER REFERENCES agents (id),
    to_agent_id      INTEGER NOT NULL REFERENCES agents (id),
    reason           TEXT    NOT NULL,
    summary          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    acknowledged_at  INTEGER
);
CREATE INDEX handoffs_open ON handoffs (conversation_id, to_agent_id) WHERE acknowledged_at IS NULL;

CREATE TABLE templates (
    id            INTEGER PRIMARY KEY,
    waba_id       TEXT    NOT NULL,
    meta_id       TEXT,
    name          TEXT    NOT NULL,
    language      TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    category      TEXT,
    components    TEXT    NOT NULL DEFAULT '[]',
    placeholders  TEXT    NOT NULL DEFAULT '[]',
    updated_at    INTEGER NOT NULL,
    UNIQUE (name, language)
);

CREATE TABLE consent_events (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts (id),
    event       TEXT    NOT NULL CHECK (event IN ('opt_in', 'opt_out')),
    source      TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
ALTER TABLE contacts ADD COLUMN opted_out_at INTEGER;
ALTER TABLE contacts ADD COLUMN opted_in_at INTEGER;

ALTER TABLE conversations ADD COLUMN last_inbound_at INTEGER;
ALTER TABLE conversations ADD COLUMN resolved_at INTEGER;
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
ALTER TABLE conversations ADD COLUMN disposition TEXT;
ALTER TABLE conversations ADD COLUMN next_action TEXT;
ALTER TABLE conversations ADD COLUMN auto_ack_at INTEGER;
