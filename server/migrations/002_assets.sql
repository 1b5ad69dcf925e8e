-- 002: audio assets, stored by content hash.
--
-- The bytes live in files, DATA/assets/ab/abcdef... (the SHA-256 of the
-- content in lowercase hex, under a folder named by its first two digits);
-- a row here is one user's link to such a file. The same content uploaded
-- by several users (or twice) is one file and one row per user. A file is
-- on disk (fsynced, renamed into place, its folder fsynced) before any row
-- names it; it is removed after the last row naming it is deleted, so a
-- crash leaves at worst a file no row names, which start-up removes.

CREATE TABLE asset_links (
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,               -- SHA-256 of the content, 64 lowercase hex digits
    name       TEXT NOT NULL,               -- the name the user gave it
    size       INTEGER NOT NULL,            -- bytes of the file
    format     TEXT NOT NULL,               -- sniffed from the bytes: wav, flac, mp3, ogg, aiff
    created_at INTEGER NOT NULL,
    PRIMARY KEY (owner_id, hash)
) WITHOUT ROWID;
-- Whether anyone still links a file (delete, the start-up sweep).
CREATE INDEX asset_links_hash ON asset_links (hash);
