<?php
// Front controller: nginx sends every request that is not a static file here.
declare(strict_types=1);

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);

function db(): PDO
{
    $password = getenv('DB_PASSWORD_FILE') ? trim((string) file_get_contents(getenv('DB_PASSWORD_FILE'))) : getenv('DB_PASSWORD');
    $dsn = sprintf('mysql:host=%s;port=%s;dbname=%s;charset=utf8mb4', getenv('DB_HOST'), getenv('DB_PORT'), getenv('DB_NAME'));
    return new PDO($dsn, getenv('DB_USER'), $password, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 2]);
}

if ($path === '/health') {
    header('Content-Type: application/json');
    try {
        db()->query('SELECT 1');
        echo json_encode(['status' => 'ok']);
    } catch (Throwable $e) {
        error_log('health: ' . $e->getMessage());
        http_response_code(503);
        echo json_encode(['status' => 'error']);
    }
    exit;
}

header('Content-Type: text/html; charset=utf-8');
$visits = (int) db()->query('SELECT COUNT(*) FROM visits')->fetchColumn();
db()->exec('INSERT INTO visits () VALUES ()');
echo '<!doctype html><title>myapp</title><h1>It works</h1><p>Visits so far: ' . $visits . '</p>';
