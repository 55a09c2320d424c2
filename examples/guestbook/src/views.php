<?php
/**
 * HTML output. Every value that reaches the page goes through h().
 */

declare(strict_types=1);

/** Escapes text for HTML element content and attribute values. */
function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML5, 'UTF-8');
}

/** Security and type headers shared by every HTML response. */
function gb_html_headers(int $status): void
{
    http_response_code($status);
    header('Content-Type: text/html; charset=utf-8');
    header('X-Content-Type-Options: nosniff');
    header('Referrer-Policy: same-origin');
    header("Content-Security-Policy: default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    header('Cache-Control: no-store');
}

/** The document around a page body. $body must already be escaped HTML. */
function gb_layout(string $title, string $body): string
{
    $title = h($title);
    return <<<HTML
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{$title}</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="/static/app.3f2a9c1b.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="masthead">
<a href="/" class="brand"><img src="/static/logo.svg" alt="" width="40" height="40"> <span>Guestbook</span></a>
</header>
<main>
{$body}
</main>
<footer class="colophon"><p>Served by nginx, PHP-FPM and MariaDB.</p></footer>
</body>
</html>

HTML;
}

/** "2024-05-01T09:30:12.123456Z" → "2024-05-01 09:30 UTC" for people without JavaScript. */
function gb_human_time(string $iso): string
{
    return substr($iso, 0, 10) . ' ' . substr($iso, 11, 5) . ' UTC';
}

/**
 * The home page: the form (with any validation errors and the submitted
 * values) above the newest entries.
 *
 * @param list<array>|null       $entries null when they could not be loaded
 * @param array<string, string>  $errors  field => message
 * @param array{name?: string, message?: string} $old values to put back in the form
 */
function gb_render_home(?array $entries, array $errors = [], array $old = [], ?string $notice = null): string
{
    $name = h($old['name'] ?? '');
    $message = h($old['message'] ?? '');
    $nameMax = GB_NAME_MAX;
    $messageMax = GB_MESSAGE_MAX;

    $summary = '';
    if ($errors !== []) {
        $items = '';
        foreach ($errors as $field => $text) {
            $items .= '<li><a href="#' . h((string) $field) . '">' . h($text) . '</a></li>';
        }
        $summary = '<div class="errors" role="alert"><p>Your entry was not saved:</p><ul>' . $items . '</ul></div>';
    }
    if ($notice !== null) {
        $summary .= '<p class="notice" role="status">' . h($notice) . '</p>';
    }

    $fieldError = static function (string $field) use ($errors): string {
        return isset($errors[$field])
            ? '<p class="field-error" id="' . h($field) . '-error">' . h($errors[$field]) . '</p>'
            : '';
    };
    $invalid = static function (string $field) use ($errors): string {
        return isset($errors[$field])
            ? ' aria-invalid="true" aria-describedby="' . h($field) . '-error"'
            : '';
    };

    $form = <<<HTML
<section class="sign" aria-labelledby="sign-title">
<h1 id="sign-title">Sign the guestbook</h1>
{$summary}
<form method="post" action="/">
<p class="field">
<label for="name">Name</label>
<input id="name" name="name" type="text" value="{$name}" maxlength="{$nameMax}" required autocomplete="nickname"{$invalid('name')}>
</p>
{$fieldError('name')}
<p class="field">
<label for="message">Message</label>
<textarea id="message" name="message" rows="4" maxlength="{$messageMax}" required{$invalid('message')}>{$message}</textarea>
<small class="counter" data-counter-for="message" aria-live="polite">Up to {$messageMax} characters.</small>
</p>
{$fieldError('message')}
<p><button type="submit">Sign</button></p>
</form>
</section>
HTML;

    if ($entries === null) {
        $list = '<p class="notice">The entries cannot be shown right now. Please try again in a moment.</p>';
    } elseif ($entries === []) {
        $list = '<p class="empty">No entries yet. Be the first to sign!</p>';
    } else {
        $list = "<ol class=\"entries\">\n";
        foreach ($entries as $entry) {
            $list .= sprintf(
                '<li class="entry" id="entry-%d"><article><header><strong class="entry-name">%s</strong> '
                . '<time datetime="%s">%s</time></header><p class="entry-message">%s</p></article></li>' . "\n",
                (int) $entry['id'],
                h($entry['name']),
                h($entry['created_at']),
                h(gb_human_time($entry['created_at'])),
                h($entry['message'])
            );
        }
        $list .= '</ol>';
    }

    $limit = GB_PAGE_SIZE;
    $body = $form . "\n"
        . '<section class="recent" aria-labelledby="recent-title">' . "\n"
        . '<h2 id="recent-title">Latest entries <small>(newest ' . $limit . ')</small></h2>' . "\n"
        . $list . "\n"
        . '</section>';

    return gb_layout('Guestbook', $body);
}

/** A plain page with a heading and one paragraph (404, 405, 500, ...). */
function gb_render_message(string $title, string $text): string
{
    $body = '<section class="message-page"><h1>' . h($title) . '</h1><p>' . h($text)
        . '</p><p><a href="/">Back to the guestbook</a></p></section>';
    return gb_layout($title . ' – Guestbook', $body);
}
