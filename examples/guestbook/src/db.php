<?php
/**
 * Database access for the guestbook.
 *
 * Configuration comes from the environment that php-fpm hands to the pool
 * (env[...] lines end up both in getenv() and in $_SERVER, so both are read):
 *
 *   DB_HOST, DB_PORT, DB_NAME, DB_USER     the primary (read/write) server;
 *                                          DB_HOST may be a unix socket path
 *   DB_PASSWORD_FILE                       file holding the password (preferred)
 *   DB_PASSWORD                            the password itself (fallback)
 *   DB_READ_HOST, DB_READ_PORT             optional read-only endpoint
 *
 * Exceptions raised here may mention the user or host, so callers must log
 * them (see gb_log_db_error) and never print them.
 */

declare(strict_types=1);

/** Reads one setting from getenv() first, then $_SERVER / $_ENV. Empty counts as unset. */
function gb_env(string $key): ?string
{
    $value = getenv($key);
    if ($value === false || $value === '') {
        $value = $_SERVER[$key] ?? $_ENV[$key] ?? null;
    }
    if (!is_string($value) || $value === '') {
        return null;
    }
    return $value;
}

/** The database password: DB_PASSWORD_FILE when it is set and readable, else DB_PASSWORD. */
function gb_db_password(): string
{
    $file = gb_env('DB_PASSWORD_FILE');
    if ($file !== null) {
        if (is_file($file) && is_readable($file)) {
            $contents = file_get_contents($file);
            if ($contents !== false) {
                return rtrim($contents, "\r\n");
            }
        }
        error_log('guestbook: DB_PASSWORD_FILE is set but cannot be read; falling back to DB_PASSWORD');
    }
    return gb_env('DB_PASSWORD') ?? '';
}

/** Parses a port setting, falling back to $default when missing or out of range. */
function gb_port(?string $raw, int $default): int
{
    if ($raw === null || !ctype_digit($raw)) {
        return $default;
    }
    $port = (int) $raw;
    return ($port >= 1 && $port <= 65535) ? $port : $default;
}

/**
 * Writes a database failure to the PHP error log. Only the exception class,
 * the driver error code and the message are logged: PDO messages name the
 * user and host but not the password, and the stack trace (which could carry
 * constructor arguments) is deliberately left out.
 */
function gb_log_db_error(string $context, Throwable $e): void
{
    error_log(sprintf(
        'guestbook: %s: %s [%s] %s',
        $context,
        get_class($e),
        (string) gb_db_error_code($e),
        str_replace(["\r", "\n"], ' ', $e->getMessage())
    ));
}

/** The MySQL/MariaDB error number behind a PDOException, or 0 when unknown. */
function gb_db_error_code(Throwable $e): int
{
    if ($e instanceof PDOException) {
        if (is_array($e->errorInfo) && isset($e->errorInfo[1]) && is_int($e->errorInfo[1])) {
            return $e->errorInfo[1];
        }
        // Connection errors carry no errorInfo; the number is in the message: "SQLSTATE[HY000] [2002] ...".
        if (preg_match('/\[(\d{4})\]/', $e->getMessage(), $m) === 1) {
            return (int) $m[1];
        }
        if (is_int($e->getCode())) {
            return $e->getCode();
        }
    }
    return 0;
}

/** A short, credential-free description of a database failure, for /health. */
function gb_db_error_reason(Throwable $e): string
{
    return match (gb_db_error_code($e)) {
        2002, 2003, 2005, 2006, 2013 => 'unreachable',
        1045, 1698 => 'access denied',
        1044 => 'database access denied',
        1049 => 'unknown database',
        1146 => 'entries table missing',
        1040, 1203 => 'too many connections',
        default => 'query failed',
    };
}

/**
 * Lazily opened connections to the primary and (optionally) a read endpoint.
 * One instance lives for one request; nothing is persistent.
 */
final class GuestbookDb
{
    /** Seconds allowed for the TCP connect to a database server. */
    public const CONNECT_TIMEOUT = 2;
    /** Seconds to wait for any reply from the server (greeting included). */
    public const READ_TIMEOUT = 5;

    private ?PDO $primary = null;
    private ?PDO $reader = null;
    private bool $readerFailed = false;

    private function __construct(
        private readonly string $host,
        private readonly int $port,
        private readonly string $name,
        private readonly string $user,
        #[\SensitiveParameter] private readonly string $password,
        private readonly ?string $readHost,
        private readonly int $readPort,
    ) {
    }

    public static function fromEnvironment(): self
    {
        $port = gb_port(gb_env('DB_PORT'), 3306);
        return new self(
            gb_env('DB_HOST') ?? '127.0.0.1',
            $port,
            gb_env('DB_NAME') ?? 'guestbook',
            gb_env('DB_USER') ?? 'guestbook',
            gb_db_password(),
            gb_env('DB_READ_HOST'),
            gb_port(gb_env('DB_READ_PORT'), $port),
        );
    }

    /** Keeps the password out of var_dump()/print_r() output. */
    public function __debugInfo(): array
    {
        return [
            'host' => $this->host,
            'port' => $this->port,
            'name' => $this->name,
            'user' => $this->user,
            'password' => '***',
            'readHost' => $this->readHost,
            'readPort' => $this->readPort,
        ];
    }

    public function hasReadEndpoint(): bool
    {
        return $this->readHost !== null;
    }

    /** The read/write connection. Throws PDOException when the server cannot be reached. */
    public function primary(): PDO
    {
        return $this->primary ??= $this->connect($this->host, $this->port);
    }

    /**
     * Runs a read-only query function against the read endpoint when one is
     * configured, and against the primary when there is none or it fails.
     *
     * @template T
     * @param callable(PDO): T $query
     * @return T
     */
    public function read(callable $query): mixed
    {
        if ($this->readHost !== null && !$this->readerFailed) {
            try {
                $this->reader ??= $this->connect($this->readHost, $this->readPort);
                return $query($this->reader);
            } catch (PDOException $e) {
                $this->readerFailed = true;
                $this->reader = null;
                gb_log_db_error(
                    sprintf('read endpoint %s:%d failed, using the primary', $this->readHost, $this->readPort),
                    $e
                );
            }
        }
        return $query($this->primary());
    }

    private function connect(string $host, int $port): PDO
    {
        if (str_starts_with($host, '/')) {
            $dsn = sprintf('mysql:unix_socket=%s;dbname=%s;charset=utf8mb4', $host, $this->name);
        } else {
            $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $host, $port, $this->name);
        }
        // ATTR_TIMEOUT bounds the TCP connect only. A server that accepts the
        // connection but never answers would otherwise hold this worker for
        // mysqlnd.net_read_timeout (a day by default); mysqlnd copies that
        // setting into each new connection, so cap it while connecting.
        $previous = ini_set('mysqlnd.net_read_timeout', (string) self::READ_TIMEOUT);
        try {
            $pdo = new PDO($dsn, $this->user, $this->password, [
                PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
                PDO::ATTR_PERSISTENT => false,
                PDO::ATTR_TIMEOUT => self::CONNECT_TIMEOUT,
                PDO::ATTR_EMULATE_PREPARES => false,
                PDO::ATTR_STRINGIFY_FETCHES => false,
                PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
            ]);
        } finally {
            if ($previous !== false) {
                ini_set('mysqlnd.net_read_timeout', $previous);
            }
        }
        // Store and read timestamps in UTC whatever the server's zone is.
        $pdo->exec("SET time_zone = '+00:00'");
        return $pdo;
    }
}
