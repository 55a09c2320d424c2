<?php
/**
 * Guestbook front controller.
 *
 * nginx serves public/ itself and hands every other request to this file, so
 * routing is done here from REQUEST_URI:
 *
 *   GET  /             the page: form + newest entries
 *   POST /             sign (303 to / on success, 422 with the form on errors)
 *   GET  /health       JSON health check against the database
 *   GET  /api/entries  JSON array of the newest entries
 *   POST /api/entries  create an entry from form fields or a JSON object (201)
 */

declare(strict_types=1);

// Errors go to the log (php-fpm's error_log), never into a response.
ini_set('display_errors', '0');
ini_set('log_errors', '1');

require __DIR__ . '/src/db.php';
require __DIR__ . '/src/entries.php';
require __DIR__ . '/src/views.php';

/** The decoded path part of a request URI ("/api/entries?x=1" → "/api/entries"). */
function gb_request_path(string $uri): string
{
    $path = strtok($uri, '?#');
    $path = rawurldecode($path === false ? '/' : $path);
    return $path === '' ? '/' : $path;
}

function gb_send_json(int $status, mixed $data): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    header('Cache-Control: no-store');
    header('X-Content-Type-Options: nosniff');
    echo json_encode(
        $data,
        JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR
    ), "\n";
}

function gb_send_html(int $status, string $html): void
{
    gb_html_headers($status);
    echo $html;
}

/** 405 with the Allow header, as JSON for API paths and HTML otherwise. */
function gb_method_not_allowed(string $path, array $allowed): void
{
    header('Allow: ' . implode(', ', $allowed));
    if (str_starts_with($path, '/api/') || $path === '/health') {
        gb_send_json(405, ['error' => 'method not allowed']);
        return;
    }
    gb_send_html(405, gb_render_message('Method not allowed', 'This address does not accept that kind of request.'));
}

function gb_client_ip(): ?string
{
    $ip = $_SERVER['REMOTE_ADDR'] ?? null;
    return is_string($ip) && $ip !== '' ? $ip : null;
}

/**
 * Fields of a POST /api/entries request: a JSON object when the body is JSON
 * (by Content-Type, or when the form fields hold neither name nor message and
 * the body looks like an object, as with a bare `curl -d '{...}'`), the form
 * fields otherwise. Returns null for a malformed body.
 */
function gb_api_input(): ?array
{
    $type = strtolower(trim(explode(';', (string) ($_SERVER['CONTENT_TYPE'] ?? ''))[0]));
    $isJson = $type === 'application/json' || str_ends_with($type, '+json');
    $raw = null;
    if (!$isJson && $type !== 'multipart/form-data' && !isset($_POST['name']) && !isset($_POST['message'])) {
        $raw = (string) file_get_contents('php://input');
        $isJson = str_starts_with(ltrim($raw), '{');
    }
    if (!$isJson) {
        return $_POST;
    }
    $raw ??= (string) file_get_contents('php://input');
    try {
        $data = json_decode($raw, true, 16, JSON_THROW_ON_ERROR);
    } catch (JsonException) {
        return null;
    }
    return (is_array($data) && !array_is_list($data)) ? $data : null;
}

// ---------------------------------------------------------------- handlers

function gb_home(GuestbookDb $db): void
{
    try {
        $entries = gb_latest_entries($db);
    } catch (PDOException $e) {
        gb_log_db_error('listing entries', $e);
        gb_send_html(503, gb_render_home(null));
        return;
    }
    gb_send_html(200, gb_render_home($entries));
}

function gb_sign(GuestbookDb $db): void
{
    [$values, $errors] = gb_validate_entry($_POST);
    if ($errors === []) {
        try {
            gb_insert_entry($db, $values['name'], $values['message'], gb_client_ip());
            http_response_code(303);
            header('Location: /');
            header('Cache-Control: no-store');
            return;
        } catch (PDOException $e) {
            gb_log_db_error('saving an entry', $e);
            gb_send_html(503, gb_render_home(
                null,
                [],
                $values,
                'Sorry, your entry could not be saved right now. Please try again in a moment.'
            ));
            return;
        }
    }

    try {
        $entries = gb_latest_entries($db);
    } catch (PDOException $e) {
        gb_log_db_error('listing entries', $e);
        $entries = null;
    }
    gb_send_html(422, gb_render_home($entries, $errors, $values));
}

function gb_health(GuestbookDb $db): void
{
    try {
        $count = gb_count_entries($db);
    } catch (PDOException $e) {
        gb_log_db_error('health check', $e);
        gb_send_json(503, ['status' => 'error', 'db' => gb_db_error_reason($e)]);
        return;
    }
    gb_send_json(200, ['status' => 'ok', 'db' => 'ok', 'entries' => $count]);
}

function gb_api_list(GuestbookDb $db): void
{
    try {
        gb_send_json(200, gb_latest_entries($db));
    } catch (PDOException $e) {
        gb_log_db_error('listing entries (api)', $e);
        gb_send_json(503, ['error' => 'database unavailable']);
    }
}

function gb_api_create(GuestbookDb $db): void
{
    $input = gb_api_input();
    if ($input === null) {
        gb_send_json(400, ['error' => 'the body must be a JSON object or form fields']);
        return;
    }
    [$values, $errors] = gb_validate_entry($input);
    if ($errors !== []) {
        gb_send_json(422, ['errors' => $errors]);
        return;
    }
    try {
        $entry = gb_insert_entry($db, $values['name'], $values['message'], gb_client_ip());
    } catch (PDOException $e) {
        gb_log_db_error('saving an entry (api)', $e);
        gb_send_json(503, ['error' => 'database unavailable']);
        return;
    }
    gb_send_json(201, $entry);
}

// ------------------------------------------------------------------ routing

$method = strtoupper((string) ($_SERVER['REQUEST_METHOD'] ?? 'GET'));
$path = gb_request_path((string) ($_SERVER['REQUEST_URI'] ?? '/'));
$isRead = $method === 'GET' || $method === 'HEAD';

try {
    $db = GuestbookDb::fromEnvironment();
    switch ($path) {
        case '/':
            if ($isRead) {
                gb_home($db);
            } elseif ($method === 'POST') {
                gb_sign($db);
            } else {
                gb_method_not_allowed($path, ['GET', 'HEAD', 'POST']);
            }
            break;
        case '/health':
            $isRead ? gb_health($db) : gb_method_not_allowed($path, ['GET', 'HEAD']);
            break;
        case '/api/entries':
            if ($isRead) {
                gb_api_list($db);
            } elseif ($method === 'POST') {
                gb_api_create($db);
            } else {
                gb_method_not_allowed($path, ['GET', 'HEAD', 'POST']);
            }
            break;
        default:
            if (str_starts_with($path, '/api/')) {
                gb_send_json(404, ['error' => 'not found']);
            } else {
                gb_send_html(404, gb_render_message('Page not found', 'There is nothing at this address.'));
            }
    }
} catch (Throwable $e) {
    error_log(sprintf('guestbook: unhandled %s: %s', get_class($e), str_replace(["\r", "\n"], ' ', $e->getMessage())));
    if (!headers_sent()) {
        gb_send_html(500, gb_render_message('Something went wrong', 'The error has been logged. Please try again later.'));
    }
}
