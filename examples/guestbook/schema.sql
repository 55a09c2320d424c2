-- Guestbook schema. Applied once, by the mariadb client, inside the app's
-- database (the tool creates the database and the user beforehand).

CREATE TABLE IF NOT EXISTS entries (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name       VARCHAR(80)     NOT NULL,
    message    TEXT            NOT NULL,
    created_at DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY entries_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
