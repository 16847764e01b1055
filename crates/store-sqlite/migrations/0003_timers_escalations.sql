-- Durable timers, escalations and SLA events (issue #4).

-- A timer is a row written in the same transaction as the change that starts
-- it. Workers claim due rows with a lease (locked_until); a crashed worker's
-- claims expire and come back. A timer fires at most once in effect: the
-- worker marks it fired in the same transaction as its action, and only
-- while it still holds the lease (fencing on locked_by).
CREATE TABLE timers (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id),
    kind             TEXT    NOT NULL,
    due_at           INTEGER NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'fired', 'cancelled')),
    payload          TEXT,
    locked_until     INTEGER,
    locked_by        TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX timers_due ON timers (due_at, id) WHERE status = 'pending';
-- One pending timer of a kind per conversation: starting a clock twice is a no-op.
CREATE UNIQUE INDEX timers_one_pending ON timers (conversation_id, kind) WHERE status = 'pending';

-- Every escalation: who must act, why, and when they acknowledged it.
CREATE TABLE escalations (
    id                INTEGER PRIMARY KEY,
    conversation_id   INTEGER NOT NULL REFERENCES conversations (id),
    level             TEXT    NOT NULL,
    reason            TEXT    NOT NULL,
    target_agent_id   INTEGER REFERENCES agents (id),
    created_at        INTEGER NOT NULL,
    acknowledged_at   INTEGER,
    acknowledged_by   INTEGER REFERENCES agents (id)
);
CREATE INDEX escalations_open ON escalations (target_agent_id, id) WHERE acknowledged_at IS NULL;
CREATE INDEX escalations_conversation ON escalations (conversation_id, id);

-- SLA events: one row per warning, miss and hit of each target.
CREATE TABLE sla_events (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id),
    target           TEXT    NOT NULL CHECK (target IN ('first_response', 'next_response', 'resolution')),
    event            TEXT    NOT NULL CHECK (event IN ('warning', 'miss', 'hit')),
    due_at           INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    agent_id         INTEGER REFERENCES agents (id)
);
CREATE INDEX sla_events_conversation ON sla_events (conversation_id, id);

ALTER TABLE conversations ADD COLUMN sla_status TEXT NOT NULL DEFAULT 'active'
    CHECK (sla_status IN ('active', 'hit', 'missed', 'active_with_misses'));
ALTER TABLE conversations ADD COLUMN next_response_due_at INTEGER;
ALTER TABLE conversations ADD COLUMN resolution_due_at INTEGER;
ALTER TABLE conversations ADD COLUMN last_responded_at INTEGER;
ALTER TABLE conversations ADD COLUMN callback_at INTEGER;
