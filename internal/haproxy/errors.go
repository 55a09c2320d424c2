package haproxy

import "errors"

// ErrNotRunning means nothing answers on the admin socket: HAProxy is not
// running, or not yet.
var ErrNotRunning = errors.New("haproxy is not running")

// ErrRefused means the runtime API answered a command with an error.
var ErrRefused = errors.New("haproxy refused the command")
