<?php
/**
 * Guestbook entries: validation and the queries that read and write them.
 */

declare(strict_types=1);

const GB_NAME_MAX = 80;
const GB_MESSAGE_MAX = 1000;
const GB_PAGE_SIZE = 50;

/** Number of characters (code points) in a UTF-8 string, or null if it is not valid UTF-8. */
function gb_char_length(string $s): ?int
{
    $n = preg_match_all('/./su', $s);
    return $n === false ? null : $n;
}

/**
 * Trims and checks one text field, recording a problem in $errors[$key].
 * Multi-line fields keep line breaks and tabs (CRLF and CR become LF, as
 * browsers send textarea line breaks as CRLF); other control characters are
 * refused everywhere.
 */
function gb_check_field(mixed $raw, string $label, int $max, string $emptyText, bool $multiline, array &$errors, string $key): string
{
    if (!is_string($raw)) { // e.g. a JSON number or array, or name[]=... in a form
        $errors[$key] = $label . ' must be text.';
        return '';
    }
    $value = $multiline ? trim(str_replace(["\r\n", "\r"], "\n", $raw)) : trim($raw);
    $len = gb_char_length($value);
    $control = $multiline ? '/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/' : '/[\x00-\x1F\x7F]/';
    if ($len === null) {
        $errors[$key] = $label . ' must be valid UTF-8 text.';
    } elseif ($len === 0) {
        $errors[$key] = $emptyText;
    } elseif ($len > $max) {
        $errors[$key] = sprintf('%s must be at most %d characters (got %d).', $label, $max, $len);
    } elseif (preg_match($control, $value) === 1) {
        $errors[$key] = $label . ' must not contain control characters.';
    }
    return $value;
}

/**
 * Checks and normalises submitted fields.
 *
 * @param array<mixed> $input raw fields (form or decoded JSON)
 * @return array{0: array{name: string, message: string}, 1: array<string, string>}
 *         the cleaned values and a map of field => error message (empty when valid)
 */
function gb_validate_entry(array $input): array
{
    $errors = [];
    $name = gb_check_field($input['name'] ?? '', 'Name', GB_NAME_MAX, 'Please enter your name.', false, $errors, 'name');
    $message = gb_check_field($input['message'] ?? '', 'Message', GB_MESSAGE_MAX, 'Please write a message.', true, $errors, 'message');

    return [['name' => $name, 'message' => $message], $errors];
}

/** Turns a database row into the shape the page and the API use. */
function gb_entry_from_row(array $row): array
{
    return [
        'id' => (int) $row['id'],
        'name' => (string) $row['name'],
        'message' => (string) $row['message'],
        // created_at is stored in UTC (the connection sets time_zone = +00:00).
        'created_at' => str_replace(' ', 'T', (string) $row['created_at']) . 'Z',
    ];
}

/**
 * The newest entries, newest first, read from the read endpoint when there is one.
 *
 * @return list<array{id: int, name: string, message: string, created_at: string}>
 */
function gb_latest_entries(GuestbookDb $db, int $limit = GB_PAGE_SIZE): array
{
    return $db->read(static function (PDO $pdo) use ($limit): array {
        $stmt = $pdo->prepare(
            'SELECT id, name, message, created_at FROM entries ORDER BY created_at DESC, id DESC LIMIT :limit'
        );
        $stmt->bindValue(':limit', $limit, PDO::PARAM_INT);
        $stmt->execute();
        return array_map('gb_entry_from_row', $stmt->fetchAll());
    });
}

/** Health check: a trivial query plus the number of entries, on the primary. */
function gb_count_entries(GuestbookDb $db): int
{
    $pdo = $db->primary();
    $pdo->query('SELECT 1')->fetchColumn();
    return (int) $pdo->query('SELECT COUNT(*) FROM entries')->fetchColumn();
}

/**
 * Inserts a validated entry on the primary and returns it as stored.
 * The client address goes into client_ip (added by migration 001); should the
 * column be missing, the entry is stored without it.
 */
function gb_insert_entry(GuestbookDb $db, string $name, string $message, ?string $clientIp): array
{
    $pdo = $db->primary();
    $ip = ($clientIp !== null && filter_var($clientIp, FILTER_VALIDATE_IP) !== false) ? $clientIp : null;

    try {
        $stmt = $pdo->prepare('INSERT INTO entries (name, message, client_ip) VALUES (:name, :message, :ip)');
        $stmt->execute([':name' => $name, ':message' => $message, ':ip' => $ip]);
    } catch (PDOException $e) {
        if (gb_db_error_code($e) !== 1054) { // 1054: unknown column
            throw $e;
        }
        error_log('guestbook: entries.client_ip is missing (run the migrations); storing the entry without it');
        $stmt = $pdo->prepare('INSERT INTO entries (name, message) VALUES (:name, :message)');
        $stmt->execute([':name' => $name, ':message' => $message]);
    }

    $id = (int) $pdo->lastInsertId();
    $stmt = $pdo->prepare('SELECT id, name, message, created_at FROM entries WHERE id = :id');
    $stmt->execute([':id' => $id]);
    $row = $stmt->fetch();
    if ($row === false) {
        throw new RuntimeException('inserted entry ' . $id . ' could not be read back');
    }
    return gb_entry_from_row($row);
}
