-- The vault: secrets that live beside the log but, unlike it, can be destroyed.
-- Settings hold service secrets such as the token signing key, created here on first migrate so
-- every instance on this database signs and accepts the same tokens.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO settings (name, value) VALUES ('auth_signing_key', lower(hex(randomblob(32))));

-- One encryption key per data subject (crypto-shredding): deleting the key makes the personal
-- data in the append-only log unreadable for good.
CREATE TABLE subject_keys (
    id          TEXT PRIMARY KEY,
    key         BLOB NOT NULL,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;
