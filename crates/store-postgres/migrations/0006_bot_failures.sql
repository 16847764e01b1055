-- Consecutive customer messages automation could not understand (out of
-- scope or below the intent's confidence threshold, while automation answers
-- first and no human has replied): the input of the `bot_failure`
-- escalation (issue #3).
ALTER TABLE conversations ADD COLUMN bot_failures bigint NOT NULL DEFAULT 0;
