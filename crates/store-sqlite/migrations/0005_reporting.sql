-- Reporting (issue #6): an append-only log of reporting events, written by
-- triggers in the same transaction as the change they record, stamped with
-- the conversation's dimensions at that moment; and the per-cycle facts the
-- reports read (report_cycles), rebuilt from the log by the rollup.
--
-- Triggers rather than application calls: every write path (ingest, timers,
-- agent API, outbox) records its events without remembering to, and the
-- dimensions are those of the row as written (NEW), never a stale copy.
-- Event kinds and their detail/value_ms are documented in KPIS.md and in
-- switchboard_core::kpi::EventKind. Times are Unix milliseconds, UTC.

ALTER TABLE conversations ADD COLUMN language TEXT;
-- When the outbound message's status last moved (sent, delivered, read, failed).
ALTER TABLE messages ADD COLUMN status_at INTEGER;

CREATE TABLE report_events (
    id               INTEGER PRIMARY KEY,
    at               INTEGER NOT NULL,
    kind             TEXT    NOT NULL,
    conversation_id  INTEGER,
    contact_id       INTEGER,
    message_id       INTEGER,
    inbox_id         INTEGER,
    team_id          INTEGER,
    agent_id         INTEGER,
    category         TEXT,
    intent           TEXT,
    language         TEXT,
    source_id        TEXT,
    source_type      TEXT,
    priority         TEXT,
    detail           TEXT,
    value_ms         INTEGER
);
CREATE INDEX report_events_conversation ON report_events (conversation_id, id);

CREATE TRIGGER report_events_no_update BEFORE UPDATE ON report_events
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;
CREATE TRIGGER report_events_no_delete BEFORE DELETE ON report_events
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;

CREATE TRIGGER report_conversation_opened AFTER INSERT ON conversations
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  VALUES (NEW.created_at, 'conversation_opened', NEW.id, NEW.contact_id, NULL, NEW.inbox_id, NEW.team_id, NEW.assignee_id,
          NEW.category, NEW.intent, NEW.language,
          json_extract(NEW.attribution, '$.source_id'), json_extract(NEW.attribution, '$.source_type'), NEW.priority,
          CASE WHEN (SELECT resolved_conversations FROM contacts WHERE id = NEW.contact_id) > 0 THEN 'returning' ELSE 'new' END,
          NULL);
END;

CREATE TRIGGER report_triaged AFTER UPDATE ON conversations
WHEN OLD.category IS NOT NEW.category OR OLD.intent IS NOT NEW.intent OR OLD.priority IS NOT NEW.priority
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  VALUES (NEW.updated_at, 'triaged', NEW.id, NEW.contact_id, NULL, NEW.inbox_id, NEW.team_id, NEW.assignee_id, NEW.category, NEW.intent, NEW.language,
          json_extract(NEW.attribution, '$.source_id'), json_extract(NEW.attribution, '$.source_type'), NEW.priority, NULL, NULL);
END;

CREATE TRIGGER report_assigned AFTER UPDATE ON conversations
WHEN OLD.assignee_id IS NOT NEW.assignee_id AND NEW.assignee_id IS NOT NULL
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  VALUES (NEW.updated_at, 'assigned', NEW.id, NEW.contact_id, NULL, NEW.inbox_id, NEW.team_id, NEW.assignee_id, NEW.category, NEW.intent, NEW.language,
          json_extract(NEW.attribution, '$.source_id'), json_extract(NEW.attribution, '$.source_type'), NEW.priority, NULL, NULL);
END;

-- A human reply to a waiting customer moves last_responded_at (automation never does).
CREATE TRIGGER report_reply AFTER UPDATE ON conversations
WHEN NEW.last_responded_at IS NOT OLD.last_responded_at AND NEW.last_responded_at IS NOT NULL AND OLD.waiting_since IS NOT NULL
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  VALUES (NEW.last_responded_at, 'reply', NEW.id, NEW.contact_id, NULL, NEW.inbox_id, NEW.team_id, NEW.assignee_id, NEW.category, NEW.intent, NEW.language,
          json_extract(NEW.attribution, '$.source_id'), json_extract(NEW.attribution, '$.source_type'), NEW.priority, CASE WHEN OLD.first_responded_at IS NULL THEN 'first' ELSE 'next' END, NEW.last_responded_at - OLD.waiting_since);
END;

CREATE TRIGGER report_automated_reply AFTER UPDATE ON conversations
WHEN OLD.auto_ack_at IS NULL AND NEW.auto_ack_at IS NOT NULL
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  VALUES (NEW.auto_ack_at, 'automated_reply', NEW.id, NEW.contact_id, NULL, NEW.inbox_id, NEW.team_id, NEW.assignee_id, NEW.category, NEW.intent, NEW.language,
          json_extract(NEW.attribution, '$.source_id'), json_extract(NEW.attribution, '$.source_type'), NEW.priority, NULL, NULL);
END;

CREATE TRIGGER report_resolved AFTER UPDATE ON conversations
WHEN OLD.status <> 'resolved' AND NEW.status = 'resolved'
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  VALUES (coalesce(NEW.resolved_at, NEW.updated_at), 'resolved', NEW.id, NEW.contact_id, NULL, NEW.inbox_id, NEW.team_id, NEW.assignee_id, NEW.category, NEW.intent, NEW.language,
          json_extract(NEW.attribution, '$.source_id'), json_extract(NEW.attribution, '$.source_type'), NEW.priority, NEW.disposition, NULL);
END;

CREATE TRIGGER report_reopened AFTER UPDATE ON conversations
WHEN OLD.status = 'resolved' AND NEW.status <> 'resolved'
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  VALUES (NEW.updated_at, 'reopened', NEW.id, NEW.contact_id, NULL, NEW.inbox_id, NEW.team_id, NEW.assignee_id, NEW.category, NEW.intent, NEW.language,
          json_extract(NEW.attribution, '$.source_id'), json_extract(NEW.attribution, '$.source_type'), NEW.priority, NULL, NULL);
END;

CREATE TRIGGER report_message_received AFTER INSERT ON messages
WHEN NEW.direction = 'inbound'
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  SELECT NEW.sent_at, 'message_received', c.id, c.contact_id, NEW.id, c.inbox_id, c.team_id, c.assignee_id, c.category, c.intent, c.language, json_extract(c.attribution, '$.source_id'), json_extract(c.attribution, '$.source_type'), c.priority, NULL, NULL
    FROM conversations c WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER report_message_status AFTER UPDATE OF status ON messages
WHEN NEW.direction = 'outbound' AND NEW.status IS NOT OLD.status AND NEW.status IN ('accepted', 'sent', 'delivered', 'read', 'failed')
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  SELECT coalesce(NEW.status_at, NEW.sent_at), CASE NEW.status WHEN 'accepted' THEN 'message_sent' ELSE 'message_' || NEW.status END, c.id, c.contact_id, NEW.id, c.inbox_id, c.team_id, c.assignee_id, c.category, c.intent, c.language, json_extract(c.attribution, '$.source_id'), json_extract(c.attribution, '$.source_type'), c.priority, NEW.type, NULL
    FROM conversations c WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER report_handoff AFTER INSERT ON handoffs
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  SELECT NEW.created_at, 'handoff', c.id, c.contact_id, NULL, c.inbox_id, c.team_id, NEW.to_agent_id, c.category, c.intent, c.language, json_extract(c.attribution, '$.source_id'), json_extract(c.attribution, '$.source_type'), c.priority, CASE WHEN NEW.from_agent_id IS NULL THEN 'bot' ELSE 'agent' END, NULL
    FROM conversations c WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER report_handoff_acknowledged AFTER UPDATE OF acknowledged_at ON handoffs
WHEN OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  SELECT NEW.acknowledged_at, 'handoff_acknowledged', c.id, c.contact_id, NULL, c.inbox_id, c.team_id, NEW.to_agent_id, c.category, c.intent, c.language, json_extract(c.attribution, '$.source_id'), json_extract(c.attribution, '$.source_type'), c.priority, NULL, NEW.acknowledged_at - NEW.created_at
    FROM conversations c WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER report_escalation AFTER INSERT ON escalations
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  SELECT NEW.created_at, 'escalation', c.id, c.contact_id, NULL, c.inbox_id, c.team_id, c.assignee_id, c.category, c.intent, c.language, json_extract(c.attribution, '$.source_id'), json_extract(c.attribution, '$.source_type'), c.priority, NEW.level || ':' || NEW.reason, NULL
    FROM conversations c WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER report_escalation_acknowledged AFTER UPDATE OF acknowledged_at ON escalations
WHEN OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  SELECT NEW.acknowledged_at, 'escalation_acknowledged', c.id, c.contact_id, NULL, c.inbox_id, c.team_id, coalesce(NEW.acknowledged_by, c.assignee_id), c.category, c.intent, c.language, json_extract(c.attribution, '$.source_id'), json_extract(c.attribution, '$.source_type'), c.priority, NEW.level || ':' || NEW.reason, NEW.acknowledged_at - NEW.created_at
    FROM conversations c WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER report_sla AFTER INSERT ON sla_events
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  SELECT NEW.at, CASE NEW.event WHEN 'warning' THEN 'sla_warning' WHEN 'hit' THEN 'sla_hit' ELSE 'sla_breach' END, c.id, c.contact_id, NULL, c.inbox_id, c.team_id, coalesce(NEW.agent_id, c.assignee_id), c.category, c.intent, c.language, json_extract(c.attribution, '$.source_id'), json_extract(c.attribution, '$.source_type'), c.priority, NEW.target, NEW.at - NEW.due_at
    FROM conversations c WHERE c.id = NEW.conversation_id;
END;

-- Consent belongs to the contact; the event carries its latest conversation's
-- dimensions when it has one.
CREATE TRIGGER report_consent AFTER INSERT ON consent_events
BEGIN
  INSERT INTO report_events (at, kind, conversation_id, contact_id, message_id, inbox_id, team_id, agent_id, category, intent, language, source_id, source_type, priority, detail, value_ms)
  SELECT NEW.at, NEW.event, c.id, NEW.contact_id, NULL, c.inbox_id, c.team_id, c.assignee_id, c.category, c.intent, c.language, json_extract(c.attribution, '$.source_id'), json_extract(c.attribution, '$.source_type'), c.priority, NEW.source, NULL
    FROM (SELECT 1) LEFT JOIN conversations c
      ON c.id = (SELECT max(id) FROM conversations WHERE contact_id = NEW.contact_id);
END;

-- One row per open -> resolve cycle (switchboard_core::kpi::Cycle), rebuilt
-- by the rollup from report_events; reports scan this, never the log.
-- `day` is the local date of opened_at in the reporting time zone.
CREATE TABLE report_cycles (
    conversation_id            INTEGER NOT NULL,
    seq                        INTEGER NOT NULL,
    contact_id                 INTEGER,
    opened_at                  INTEGER NOT NULL,
    day                        TEXT    NOT NULL,
    returning_contact          INTEGER NOT NULL,
    inbox_id                   INTEGER,
    team_id                    INTEGER,
    agent_id                   INTEGER,
    category                   TEXT,
    intent                     TEXT,
    language                   TEXT,
    source_id                  TEXT,
    source_type                TEXT,
    priority                   TEXT,
    disposition                TEXT,
    resolved_at                INTEGER,
    -- postcard-encoded switchboard_core::kpi::CycleFacts (the measured numbers).
    facts                      BLOB    NOT NULL,
    recontacted                INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX report_cycles_day ON report_cycles (day);
CREATE INDEX report_cycles_contact ON report_cycles (contact_id, opened_at);

-- Per local day: the KPI accumulator (postcard-encoded
-- switchboard_core::kpi::KpiAccumulator) of the day's cycles, in total
-- (dimension 'total') and per value of every dimension. Rebuilt for each day
-- the rollup touches; a report merges the days of its period, so a summary
-- over a million conversations reads a few thousand rows.
CREATE TABLE report_daily (
    day        TEXT NOT NULL,
    dimension  TEXT NOT NULL,
    key        TEXT,
    acc        BLOB NOT NULL
);
CREATE INDEX report_daily_lookup ON report_daily (dimension, day);
CREATE INDEX report_daily_day ON report_daily (day);

-- The rollup's watermark: report_events up to here are in report_cycles.
CREATE TABLE report_rollup (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id  INTEGER NOT NULL
);
INSERT INTO report_rollup (id, last_event_id) VALUES (1, 0);
