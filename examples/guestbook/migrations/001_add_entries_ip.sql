-- 001: remember the address an entry was posted from (IPv4 or IPv6 text,
-- at most 45 characters). Nullable: older entries have no address.
ALTER TABLE entries
    ADD COLUMN IF NOT EXISTS client_ip VARCHAR(45) NULL DEFAULT NULL AFTER message;
