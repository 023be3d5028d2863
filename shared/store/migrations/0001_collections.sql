-- The five collections, their shared search index, and the append-only reports ledger.
CREATE EXTENSION IF NOT EXISTS vector;

-- Mutable collections: inventory, chat, operations, alerts. One row per (collection, key); a newer version of
-- a record replaces the older one (the content hash says whether anything changed).
CREATE TABLE records (
    collection    text        NOT NULL CHECK (collection IN ('inventory', 'chat', 'operations', 'alerts')),
    key           text        NOT NULL,
    kind          text        NOT NULL,
    cloud         text,
    account       text,
    region        text,
    resource_type text,
    at            timestamptz NOT NULL,
    body          jsonb       NOT NULL,
    content_hash  text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, key)
);
CREATE INDEX records_by_time ON records (collection, at DESC);
CREATE INDEX records_by_scope ON records (collection, cloud, account, region, resource_type);

-- Immutable reports: one hash chain per kind ('audit', 'cost', 'compliance'). `payload` is the exact
-- canonical JSON that was hashed; `hash` = sha256(prev_hash || payload). Rows are never updated; a prefix of a
-- chain may be deleted only by the retention purge (see the trigger below), which leaves a signed marker.
CREATE TABLE reports (
    chain         text        NOT NULL CHECK (chain IN ('audit', 'cost', 'compliance')),
    seq           bigint      NOT NULL CHECK (seq > 0),
    record_id     text        NOT NULL,
    kind          text        NOT NULL,
    cloud         text,
    account       text,
    region        text,
    resource_type text,
    at            timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    payload       text        NOT NULL,
    prev_hash     text        NOT NULL,
    hash          text        NOT NULL,
    PRIMARY KEY (chain, seq),
    UNIQUE (chain, record_id)
);
CREATE INDEX reports_by_time ON reports (chain, at);

-- Signed checkpoints of each chain (also kept in a file outside the database: see escher.store.ledger).
CREATE TABLE ledger_checkpoints (
    chain      text        NOT NULL,
    seq        bigint      NOT NULL,
    hash       text        NOT NULL,
    at         timestamptz NOT NULL,
    key_id     text        NOT NULL,
    signature  text        NOT NULL,
    PRIMARY KEY (chain, seq)
);

-- Signed markers left by the retention purge: where each chain now starts.
CREATE TABLE ledger_purges (
    chain        text        NOT NULL,
    through_seq  bigint      NOT NULL,
    through_hash text        NOT NULL,
    removed      bigint      NOT NULL,
    at           timestamptz NOT NULL,
    key_id       text        NOT NULL,
    signature    text        NOT NULL,
    PRIMARY KEY (chain, through_seq)
);

-- Public halves of the checkpoint signing keys, so a restored copy can be verified on another machine.
CREATE TABLE ledger_keys (
    key_id     text PRIMARY KEY,
    public_key text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only at the database level. The one exception: the retention purge deletes a chain's prefix inside a
-- transaction that names the chain and the last sequence number it may delete.
CREATE FUNCTION escher_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'reports' THEN
        IF OLD.chain = current_setting('escher.purge_chain', true)
           AND OLD.seq <= coalesce(nullif(current_setting('escher.purge_through', true), ''), '0')::bigint THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'escher: % on % is refused: this table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'immutable records leave only through the retention purge (escher.store.retention)';
END
$$;

CREATE TRIGGER reports_append_only BEFORE UPDATE OR DELETE ON reports
    FOR EACH ROW EXECUTE FUNCTION escher_append_only();
CREATE TRIGGER reports_no_truncate BEFORE TRUNCATE ON reports
    FOR EACH STATEMENT EXECUTE FUNCTION escher_append_only();
-- Checkpoints and purge markers have no exception at all: refused per statement, even when no row matches.
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION escher_append_only();
CREATE TRIGGER purges_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_purges
    FOR EACH STATEMENT EXECUTE FUNCTION escher_append_only();

-- One search index over all five collections: hybrid retrieval = HNSW (cosine) + full text, fused by rank.
-- `search_text` is the synonym-expanded text (see escher.embed), so both halves see the domain concepts.
CREATE TABLE search_docs (
    doc_id        text        PRIMARY KEY,
    collection    text        NOT NULL,
    kind          text        NOT NULL,
    cloud         text,
    account       text,
    region        text,
    resource_type text,
    at            timestamptz NOT NULL,
    title         text        NOT NULL,
    body          text        NOT NULL,
    search_text   text        NOT NULL,
    embedder      text        NOT NULL,
    embedding     vector(384) NOT NULL,
    tsv           tsvector    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, search_text)) STORED
);
CREATE INDEX search_docs_embedding ON search_docs USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 64);
CREATE INDEX search_docs_tsv ON search_docs USING gin (tsv);
CREATE INDEX search_docs_scope ON search_docs (collection, kind, cloud, account, region, resource_type, at);

-- Extend mode: which record objects this store has already exchanged with the bucket.
CREATE TABLE sync_seen (
    collection   text NOT NULL,
    content_hash text NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('pushed', 'pulled')),
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, content_hash)
);

-- Which database this is: checkpoints kept outside the database name it, so a file never judges another store.
CREATE TABLE store_identity (
    id         text        PRIMARY KEY DEFAULT gen_random_uuid()::text,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO store_identity DEFAULT VALUES;
