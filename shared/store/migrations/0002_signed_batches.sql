-- Each append transaction signs its last row: `signature` = Ed25519 over (chain, batch_from, seq, hash) with the
-- writer's key, whose public half is pinned outside the database (escher.store.keys). A row that no signed batch
-- covers was not written by the key holder: `escher audit verify` names it as forged. Rows from before this
-- migration carry no signature; the checkpoints signed before it cover them.
ALTER TABLE reports ADD COLUMN batch_from bigint;
ALTER TABLE reports ADD COLUMN key_id text;
ALTER TABLE reports ADD COLUMN signature text;

-- `SET session_replication_role = replica` skips ordinary triggers (it is meant for replication): the
-- append-only triggers fire in every role.
ALTER TABLE reports ENABLE ALWAYS TRIGGER reports_append_only;
ALTER TABLE reports ENABLE ALWAYS TRIGGER reports_no_truncate;
ALTER TABLE ledger_checkpoints ENABLE ALWAYS TRIGGER checkpoints_append_only;
ALTER TABLE ledger_purges ENABLE ALWAYS TRIGGER purges_append_only;
