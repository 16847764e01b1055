-- Counters that follow the conversations table inside the database, so one
-- UPDATE of a conversation keeps them in step without extra round trips:
-- agents.open_count (open conversations assigned), agents.last_assigned_at,
-- contacts.last_agent_id and contacts.resolved_conversations.
--
-- A conversation contributes 1 to its assignee's open_count while it is not
-- resolved; the trigger applies "contribution(NEW) - contribution(OLD)", which
-- is right for any combination of reassignment and resolve/reopen.
--
-- PostgreSQL fires a table's triggers in name order; SQLite fires them newest
-- first. The `sb90_` prefix makes these counters run after the reporting
-- triggers of migration 0005, as they do on SQLite.

CREATE FUNCTION sb_conversations_counters_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE agents SET open_count = greatest(open_count - 1, 0)
   WHERE id = OLD.assignee_id AND OLD.status <> 'resolved';
  UPDATE agents SET open_count = open_count + 1
   WHERE id = NEW.assignee_id AND NEW.status <> 'resolved';
  UPDATE agents SET last_assigned_at = NEW.updated_at
   WHERE id = NEW.assignee_id AND OLD.assignee_id IS DISTINCT FROM NEW.assignee_id;
  UPDATE contacts SET last_agent_id = NEW.assignee_id
   WHERE id = NEW.contact_id AND NEW.assignee_id IS NOT NULL AND OLD.assignee_id IS DISTINCT FROM NEW.assignee_id;
  UPDATE contacts
     SET resolved_conversations = greatest(resolved_conversations + (NEW.status = 'resolved')::int - (OLD.status = 'resolved')::int, 0)
   WHERE id = NEW.contact_id AND (OLD.status = 'resolved') <> (NEW.status = 'resolved');
  RETURN NULL;
END $$;

CREATE TRIGGER sb90_conversations_counters_update
AFTER UPDATE OF assignee_id, status ON conversations
FOR EACH ROW
WHEN (OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
  OR (OLD.status = 'resolved') <> (NEW.status = 'resolved'))
EXECUTE FUNCTION sb_conversations_counters_update();

CREATE FUNCTION sb_conversations_counters_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE agents SET open_count = open_count + 1, last_assigned_at = NEW.created_at WHERE id = NEW.assignee_id;
  UPDATE contacts SET last_agent_id = NEW.assignee_id WHERE id = NEW.contact_id;
  RETURN NULL;
END $$;

CREATE TRIGGER sb90_conversations_counters_insert
AFTER INSERT ON conversations
FOR EACH ROW
WHEN (NEW.assignee_id IS NOT NULL AND NEW.status <> 'resolved')
EXECUTE FUNCTION sb_conversations_counters_insert();
