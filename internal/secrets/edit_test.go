package secrets

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trio-stack/trio/internal/secrets/secretstest"
)

// fakeEditor writes a shell script that acts as $EDITOR: it records the
// file it was given and the modes of that file and its directory to log,
// then runs body with the file as $f.
func fakeEditor(t testing.TB, body string) (editor, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	script := "#!/bin/sh\nfor f; do :; done\n" +
		"{ echo \"$f\"; stat -c %a \"$f\" \"$(dirname \"$f\")\"; echo \"args: $*\"; } > '" + log + "'\n" +
		body + "\n"
	return secretstest.WriteFile(t, dir, "editor with space.sh", []byte(script), 0o700), log
}

func TestEditInTempFile_Changed(t *testing.T) {
	editor, log := fakeEditor(t, `echo "new: value" >> "$f"`)
	got, changed, err := EditInTempFile(context.Background(), quoteArg(editor)+" --wait", []byte("old: value\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !changed || string(got) != "old: value\nnew: value\n" {
		t.Errorf("EditInTempFile = %q, %v; want the appended line and changed", got, changed)
	}
	lines := readLines(t, log)
	if lines[1] != "600" || lines[2] != "700" {
		t.Errorf("file mode %s, directory mode %s; want 600 and 700", lines[1], lines[2])
	}
	if !strings.HasPrefix(lines[3], "args: --wait ") {
		t.Errorf("editor got %q, want --wait then the file", lines[3])
	}
	assertRemoved(t, lines[0])
}

func TestEditInTempFile_Unchanged(t *testing.T) {
	editor, log := fakeEditor(t, ":")
	got, changed, err := EditInTempFile(context.Background(), quoteArg(editor), []byte("a: 1\n"))
	if err != nil || changed || string(got) != "a: 1\n" {
		t.Errorf("EditInTempFile = %q, %v, %v; want the same text, unchanged", got, changed, err)
	}
	assertRemoved(t, readLines(t, log)[0])
}

func TestEditInTempFile_EditorFails(t *testing.T) {
	editor, log := fakeEditor(t, `echo "half-done" >> "$f"; exit 1`)
	got, changed, err := EditInTempFile(context.Background(), quoteArg(editor), []byte("a: 1\n"))
	if !errors.Is(err, ErrEditor) || got != nil || changed {
		t.Errorf("EditInTempFile = %q, %v, %v; want ErrEditor and nothing", got, changed, err)
	}
	assertRemoved(t, readLines(t, log)[0])
}

func TestEditInTempFile_EditorMissing(t *testing.T) {
	_, _, err := EditInTempFile(context.Background(), "/nonexistent/editor", nil)
	if !errors.Is(err, ErrEditor) {
		t.Errorf("error = %v, want ErrEditor", err)
	}
	_, _, err = EditInTempFile(context.Background(), `vim "unclosed`, nil)
	if !errors.Is(err, ErrEditor) {
		t.Errorf("error = %v, want ErrEditor for an unclosed quote", err)
	}
}

func TestEditInTempFile_EnvEditor(t *testing.T) {
	editor, log := fakeEditor(t, `echo b >> "$f"`)
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", quoteArg(editor))
	got, changed, err := EditInTempFile(context.Background(), "", []byte("a\n"))
	if err != nil || !changed || string(got) != "a\nb\n" {
		t.Errorf("EditInTempFile = %q, %v, %v; want $EDITOR to run", got, changed, err)
	}
	assertRemoved(t, readLines(t, log)[0])
}

func TestSplitCommand_Words(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"vim", []string{"vim"}},
		{"  code  --wait ", []string{"code", "--wait"}},
		{`'/opt/my editor/bin/ed' -n`, []string{"/opt/my editor/bin/ed", "-n"}},
		{`"/opt/my editor/ed" "a\"b" "c\d"`, []string{"/opt/my editor/ed", `a"b`, `c\d`}},
		{`my\ editor x''y ""`, []string{"my editor", "xy", ""}},
		{"", nil},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`"open`, `'open`, `trailing\`} {
		if _, err := splitCommand(bad); err == nil {
			t.Errorf("splitCommand(%q) succeeded, want an error", bad)
		}
	}
}

// quoteArg single-quotes s for splitCommand.
func quoteArg(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// readLines reads a file as lines.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// assertRemoved fails if the edited file or its directory still exists.
func assertRemoved(t testing.TB, file string) {
	t.Helper()
	if _, err := os.Stat(filepath.Dir(file)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp directory %s was not removed: %v", filepath.Dir(file), err)
	}
}
