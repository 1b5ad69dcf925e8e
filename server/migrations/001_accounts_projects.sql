-- 001: accounts, sessions, projects and their revisions.
--
-- Applied by store_sqlite.c inside one transaction together with its row in
-- schema_version. A migration is never edited once released: a change to
-- the schema is a new file with the next number.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,            -- argon2id string; '' for the local user
    is_local      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
-- At most one local user (ampd --local).
CREATE UNIQUE INDEX users_one_local ON users (is_local) WHERE is_local = 1;

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,        -- SHA-256 of the cookie's token
    csrf       TEXT NOT NULL,               -- required in X-CSRF-Token on writes
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE projects (
    id         INTEGER PRIMARY KEY,
    public_id  TEXT NOT NULL UNIQUE,        -- random, the only id clients see
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    head       INTEGER NOT NULL,            -- the latest revision's number
    share_hash BLOB UNIQUE,                 -- SHA-256 of the share token, NULL: not shared
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX projects_owner ON projects (owner_id, updated_at);

-- Every save is a revision; a revision is never changed.
CREATE TABLE revisions (
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,         -- 1, 2, ... per project
    document      TEXT NOT NULL,            -- the engine's project JSON
    size          INTEGER NOT NULL,         -- bytes of document
    restored_from INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (project_id, number)
) WITHOUT ROWID;
