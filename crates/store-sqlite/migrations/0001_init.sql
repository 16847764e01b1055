-- Switchboard schema v1 (SQLite). Times are INTEGER Unix milliseconds, UTC.
-- JSON columns are TEXT holding JSON.

CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    signature    TEXT,
    status       TEXT    NOT NULL DEFAULT 'received'
                 CHECK (status IN ('received', 'processed', 'dead_letter')),
    error        TEXT,
    messages     INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_dead ON deliveries (id) WHERE status = 'dead_letter';

CREATE TABLE webhook_events (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES deliveries (id),
    field        TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    received_at  INTEGER NOT NULL
);

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    skills      TEXT    NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL
);

CREATE TABLE agents (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL,
    email             TEXT    NOT NULL UNIQUE,
    role              TEXT    NOT NULL CHECK (role IN ('agent', 'senior', 'supervisor', 'admin')),
    team_id           INTEGER REFERENCES teams (id),
    skills            TEXT    NOT NULL DEFAULT '[]',
    capacity          INTEGER NOT NULL CHECK (capacity >= 0),
    availability      TEXT    NOT NULL CHECK (availability IN ('online', 'away', 'offline')),
    -- Maintained with every assignment change, never recounted on decisions.
    open_count        INTEGER NOT NULL DEFAULT 0,
    last_assigned_at  INTEGER,
    token_sha256      TEXT    NOT NULL UNIQUE,
    created_at        INTEGER NOT NULL
);

CREATE TABLE inboxes (
    id                    INTEGER PRIMARY KEY,
    phone_number_id       TEXT    NOT NULL UNIQUE,
    display_phone_number  TEXT,
    waba_id               TEXT,
    team_id               INTEGER REFERENCES teams (id),
    created_at            INTEGER NOT NULL
);

CREATE TABLE contacts (
    id                      INTEGER PRIMARY KEY,
    wa_id                   TEXT UNIQUE,
    user_id                 TEXT UNIQUE,
    name                    TEXT,
    username                TEXT,
    last_agent_id           INTEGER REFERENCES agents (id),
    last_inbound_at         INTEGER,
    resolved_conversations  INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    CHECK (wa_id IS NOT NULL OR user_id IS NOT NULL)
);

CREATE TABLE conversations (
    id                      INTEGER PRIMARY KEY,
    contact_id              INTEGER NOT NULL REFERENCES contacts (id),
    inbox_id                INTEGER NOT NULL REFERENCES inboxes (id),
    status                  TEXT    NOT NULL DEFAULT 'open'
                            CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    priority                TEXT    NOT NULL DEFAULT 'low'
                            CHECK (priority IN ('urgent', 'high', 'medium', 'low')),
    category                TEXT,
    intent                  TEXT,
    escalation_reasons      TEXT    NOT NULL DEFAULT '[]',
    assignee_id             INTEGER REFERENCES agents (id),
    team_id                 INTEGER REFERENCES teams (id),
    waiting_since           INTEGER,
    waiting_count           INTEGER NOT NULL DEFAULT 0,
    first_response_due_at   INTEGER,
    first_responded_at      INTEGER,
    attribution             TEXT,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    last_message_at         INTEGER NOT NULL,
    -- Queue order key: due time, conversations without one last.
    due_key                 INTEGER GENERATED ALWAYS AS (coalesce(first_response_due_at, 9223372036854775807)) VIRTUAL
);
-- One conversation per contact and inbox that is not resolved.
CREATE UNIQUE INDEX conversations_one_active ON conversations (contact_id, inbox_id) WHERE status <> 'resolved';
CREATE INDEX conversations_queue ON conversations (due_key, id);
CREATE INDEX conversations_assignee ON conversations (assignee_id, due_key, id);
CREATE INDEX conversations_unassigned ON conversations (due_key, id) WHERE assignee_id IS NULL AND status = 'open';

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id),
    wamid            TEXT UNIQUE,
    direction        TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound', 'note')),
    type             TEXT    NOT NULL,
    text             TEXT,
    media            TEXT,
    context          TEXT,
    referral         TEXT,
    raw              TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    status_rank      INTEGER NOT NULL DEFAULT 0,
    sent_at          INTEGER NOT NULL,
    received_at      INTEGER NOT NULL,
    edited_at        INTEGER,
    revoked_at       INTEGER,
    triage           TEXT
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE message_statuses (
    id        INTEGER PRIMARY KEY,
    wamid     TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    raw       TEXT    NOT NULL,
    UNIQUE (wamid, status)
);

CREATE TABLE assignments (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id),
    agent_id         INTEGER REFERENCES agents (id),
    rule             TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX assignments_conversation ON assignments (conversation_id, id);
