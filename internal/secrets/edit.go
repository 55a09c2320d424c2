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

// EditInTempFile lets the user change plaintext in an editor and returns
// the result and whether it differs. The plaintext lives in a 0600 file in a
// fresh 0700 directory that is removed afterwards, also on error.
//
// editor is a command line such as "code --wait" or "vim -n", split like a
// shell would split a simple command (spaces, quotes, backslashes; no
// variables or pipes); "" means $VISUAL, then $EDITOR, then vi. The editor
// gets the terminal. A non-zero exit means the user gave up, and nothing is
// returned. Callers should cancel ctx on SIGINT (signal.NotifyContext)
// rather than die, so that the directory is still removed.
func EditInTempFile(ctx context.Context, editor string, plaintext []byte) (edited []byte, changed bool, err error) {
	argv, err := editorCommand(editor)
	if err != nil {
		return nil, false, fmt.Errorf("edit secrets: %w", err)
	}
	dir, err := os.MkdirTemp("", "trio-edit-")
	if err != nil {
		return nil, false, fmt.Errorf("edit secrets: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("edit secrets: %w", err)
	}
	// A .yml name gives the editor YAML highlighting.
	path := filepath.Join(dir, "secrets.yml")
	if err := os.WriteFile(path, plaintext, 0o600); err != nil {
		return nil, false, fmt.Errorf("edit secrets: %w", err)
	}
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], path)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, false, fmt.Errorf("edit secrets: run %s: %v: %w", argv[0], err, ErrEditor)
	}
	edited, err = os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("edit secrets: %w", err)
	}
	return edited, !bytes.Equal(edited, plaintext), nil
}

// editorCommand picks the editor and splits it into arguments.
func editorCommand(editor string) ([]string, error) {
	for _, env := range []string{"VISUAL", "EDITOR"} {
		if editor == "" {
			editor = os.Getenv(env)
		}
	}
	if strings.TrimSpace(editor) == "" {
		editor = "vi"
	}
	argv, err := splitCommand(editor)
	if err != nil {
		return nil, fmt.Errorf("editor %q: %v: %w", editor, err, ErrEditor)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("editor %q is empty: %w", editor, ErrEditor)
	}
	return argv, nil
}

// errUnclosedQuote describes an $EDITOR that a shell would not accept.
var errUnclosedQuote = errors.New("unclosed quote or trailing backslash")

// splitCommand splits s into words the way a POSIX shell does for a simple
// command: blanks separate words, single quotes keep everything, double
// quotes keep everything but \" and \\, and a backslash outside quotes
// keeps the next character.
func splitCommand(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  rune
		escape bool
	)
	for _, r := range s {
		switch {
		case escape:
			// Inside double quotes a backslash only escapes these.
			if quote == '"' && !strings.ContainsRune("\"\\$`\n", r) {
				cur.WriteByte('\\')
			}
			cur.WriteRune(r)
			escape = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escape = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escape, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escape {
		return nil, errUnclosedQuote
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
