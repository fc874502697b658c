-- The vault: secrets that live beside the log but, unlike it, can be destroyed.
-- Settings hold service secrets such as the token signing key, created here on first migrate so
-- every instance on this database signs and accepts the same tokens.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- gen_random_uuid() draws from the server's strong random source (PostgreSQL 13+).
INSERT INTO settings (name, value)
VALUES ('auth_signing_key', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- One encryption key per data subject (crypto-shredding): deleting the key makes the personal
-- data in the append-only log unreadable for good.
CREATE TABLE subject_keys (
    id          TEXT PRIMARY KEY,
    key         BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
