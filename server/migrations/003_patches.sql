-- 003: the patch library: a user's .amp patches and their revisions.
--
-- Numbered 003 and applied whether or not 002 (audio assets, another
-- branch) is present yet: store_sqlite.c applies every embedded migration
-- whose number is not in schema_version, in ascending order.

CREATE TABLE patches (
    id         INTEGER PRIMARY KEY,
    public_id  TEXT NOT NULL UNIQUE,        -- random, the only id clients see
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    head       INTEGER NOT NULL,            -- the latest revision's number
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX patches_owner ON patches (owner_id, updated_at);

-- Every save is a revision; a revision is never changed (projects name
-- them: {"library": public_id, "revision": number}).
CREATE TABLE patch_revisions (
    patch_id   INTEGER NOT NULL REFERENCES patches (id) ON DELETE CASCADE,
    number     INTEGER NOT NULL,            -- 1, 2, ... per patch
    text       TEXT NOT NULL,               -- the .amp source, UTF-8
    size       INTEGER NOT NULL,            -- bytes of text
    created_at INTEGER NOT NULL,
    PRIMARY KEY (patch_id, number)
) WITHOUT ROWID;
