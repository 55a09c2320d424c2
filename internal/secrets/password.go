package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Environment variables that name a password file or script, in the order
// they are tried. Ansible's own is honoured so existing setups keep working.
const (
	EnvPasswordFile        = "TRIO_VAULT_PASSWORD_FILE"
	EnvAnsiblePasswordFile = "ANSIBLE_VAULT_PASSWORD_FILE"
)

// clientUnknownIDStatus is the exit status by which an Ansible vault client
// script says it has no secret for the vault id it was asked for.
const clientUnknownIDStatus = 2

// PasswordSource says where a vault password comes from. There is
// deliberately no field for the password itself: a password given as a
// command-line argument leaks into shell history and the process list.
type PasswordSource struct {
	// File is a password file or script, like ansible-vault's
	// --vault-password-file. "" means: use the environment, then prompt.
	File string
	// Label is the vault-id label passed to client scripts (names ending in
	// "-client") as --vault-id LABEL; "" means Ansible's "default".
	Label string
	// Prompt allows asking on the terminal when no file is configured.
	Prompt bool
	// Confirm asks twice and requires both answers to match, for a new vault.
	Confirm bool
	// Getenv looks up environment variables; nil means os.Getenv.
	Getenv func(string) string
	// TTY is the terminal to prompt on; "" means /dev/tty, which works even
	// when standard input is redirected.
	TTY string
}

// ReadPassword returns the vault password from src, trying in order
// src.File, $TRIO_VAULT_PASSWORD_FILE, $ANSIBLE_VAULT_PASSWORD_FILE and, if
// src.Prompt is set, a prompt on the terminal without echo.
//
// A file is read as Ansible reads it: the whole content with surrounding
// whitespace removed. An executable file is run instead and its standard
// output, less surrounding line breaks, is the password; it must exit 0. An
// empty password is an error.
func ReadPassword(ctx context.Context, src PasswordSource) ([]byte, error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	path, from := src.File, "password file"
	for _, env := range []string{EnvPasswordFile, EnvAnsiblePasswordFile} {
		if path != "" {
			break
		}
		path, from = getenv(env), "$"+env
	}
	var (
		pw  []byte
		err error
	)
	switch {
	case path != "":
		pw, err = readPasswordPath(ctx, path, src.Label)
		if err != nil {
			return nil, fmt.Errorf("read vault password from %s: %w", from, err)
		}
	case src.Prompt:
		pw, err = promptPassword(ctx, src.TTY, src.Confirm)
		if err != nil {
			return nil, fmt.Errorf("read vault password: %w", err)
		}
		from = "the prompt"
	default:
		return nil, fmt.Errorf("read vault password: %w", ErrNoPassword)
	}
	if len(pw) == 0 {
		return nil, fmt.Errorf("read vault password from %s: %w", from, ErrEmptyPassword)
	}
	return pw, nil
}

// readPasswordPath reads a password file, or runs it if it is executable.
func readPasswordPath(ctx context.Context, path, label string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w; create it with the password as its only line, mode 0600", err)
	}
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return runPasswordScript(ctx, path, label)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	if IsEncrypted(data) {
		return nil, fmt.Errorf("%s is itself vault-encrypted; trio needs the password in plain text "+
			"(keep the file mode 0600) or a password script", path)
	}
	return data, nil
}

// runPasswordScript runs an executable password file and returns its output.
func runPasswordScript(ctx context.Context, path, label string) ([]byte, error) {
	// An absolute path keeps exec from searching $PATH for a bare name.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	var args []string
	if isClientScript(path) {
		if label == "" {
			label = defaultLabel
		}
		args = []string{"--vault-id", label}
	}
	cmd := exec.CommandContext(ctx, abs, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && len(args) > 0 && exit.ExitCode() == clientUnknownIDStatus:
		return nil, fmt.Errorf("%s has no secret for vault id %q: %s: %w",
			path, args[1], firstLine(stderr.Bytes()), ErrPasswordScript)
	case err != nil:
		return nil, fmt.Errorf("run %s: %v: %s: %w", path, err, firstLine(stderr.Bytes()), ErrPasswordScript)
	}
	return bytes.Trim(stdout.Bytes(), "\r\n"), nil
}

// isClientScript applies Ansible's rule: a script named like foo-client or
// foo-client.py handles --vault-id.
func isClientScript(path string) bool {
	base := filepath.Base(path)
	return strings.HasSuffix(strings.TrimSuffix(base, filepath.Ext(base)), "-client")
}

// firstLine returns the first line of a script's stderr for an error message.
func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	if len(line) == 0 {
		return "no error output"
	}
	return truncate(line, 200)
}
