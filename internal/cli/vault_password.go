package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/trio-stack/trio/internal/secrets"
)

// promptSource is the source in --vault-id LABEL@prompt, as in Ansible.
const promptSource = "prompt"

// vaultPassword is where a verb gets a vault password: --vault-password-file,
// --vault-id, the environment, or a prompt without echo when standard input
// is a terminal. There is deliberately no flag that takes the password
// itself: it would leak into shell history and the process list.
//
// Any verb that opens a vault (vault, up, apply, secrets) binds one with
// flags and calls read.
type vaultPassword struct {
	// file is --vault-password-file: a password file, or a script whose
	// output is the password.
	file string
	// id is --vault-id: a label (LABEL), or a label and where its password
	// comes from (LABEL@FILE, LABEL@prompt), as ansible-vault takes it.
	id string
	// cmd is the command the flags belong to; its input decides whether
	// prompting is possible.
	cmd *cobra.Command
	// getenv looks up the environment; nil means os.Getenv. Tests set it.
	getenv func(string) string
	// cached is a password already read in this command, so one command
	// that opens the vault twice asks once.
	cached []byte
}

// flags adds --vault-password-file and --vault-id to c.
func (v *vaultPassword) flags(c *cobra.Command) {
	v.cmd = c
	f := c.Flags()
	f.StringVar(&v.file, "vault-password-file", "",
		"read the vault password from `FILE`, or run FILE if it is executable and use its output\n"+
			"(default $"+secrets.EnvPasswordFile+", then $"+secrets.EnvAnsiblePasswordFile+", then a prompt on a terminal)")
	f.StringVar(&v.id, "vault-id", "",
		"vault-id `LABEL`, written into new vault headers ($ANSIBLE_VAULT;1.2;AES256;LABEL);\n"+
			"LABEL@FILE or LABEL@prompt also says where the password comes from")
}

// label returns the vault-id label given on the command line, "" for none.
func (v *vaultPassword) label() string {
	label, _, _ := strings.Cut(v.id, "@")
	return label
}

// check reports flag mistakes before any work is done, so that a verb that
// opens an editor never does so only to fail afterwards.
func (v *vaultPassword) check() error {
	label, src, hasSrc := strings.Cut(v.id, "@")
	switch {
	case v.id != "" && !validVaultLabel(label):
		return usageError{fmt.Errorf("--vault-id %q: %w", v.id, secrets.ErrLabel)}
	case hasSrc && src == "":
		return usageError{fmt.Errorf("--vault-id %q names no password source; write LABEL@FILE or LABEL@prompt", v.id)}
	case hasSrc && v.file != "":
		return usageError{errors.New("--vault-id LABEL@SOURCE and --vault-password-file both say where the password comes from; pass one of them")}
	}
	return nil
}

// read returns the vault password, asking twice on a terminal when confirm
// is set (for a new vault or a new password).
func (v *vaultPassword) read(ctx context.Context, confirm bool) ([]byte, error) {
	return v.readFor(ctx, "", confirm)
}

// readFor is read for a vault whose header carries fileLabel: a vault-id
// client script is asked for that label unless --vault-id names another.
func (v *vaultPassword) readFor(ctx context.Context, fileLabel string, confirm bool) ([]byte, error) {
	if v.cached != nil && !confirm {
		return v.cached, nil
	}
	if err := v.check(); err != nil {
		return nil, err
	}
	label, src, _ := strings.Cut(v.id, "@")
	if label == "" {
		label = fileLabel
	}
	ps := secrets.PasswordSource{File: v.file, Label: label, Confirm: confirm, Getenv: v.getenv}
	if src == promptSource {
		// Ansible's LABEL@prompt: ask even when the environment names a file.
		ps.Getenv = func(string) string { return "" }
	} else if src != "" {
		ps.File = src
	}
	ps.TTY, ps.Prompt = promptTerminal(v.input())
	return secrets.ReadPassword(ctx, ps)
}

// readNew returns a new password from file, or from a prompt asked twice,
// but never from the environment, which names the current password.
func (v *vaultPassword) readNew(ctx context.Context, file, label string) ([]byte, error) {
	ps := secrets.PasswordSource{
		File:    file,
		Label:   label,
		Confirm: true,
		Getenv:  func(string) string { return "" },
	}
	ps.TTY, ps.Prompt = promptTerminal(v.input())
	pw, err := secrets.ReadPassword(ctx, ps)
	if errors.Is(err, secrets.ErrNoPassword) {
		return nil, errors.New("read new vault password: pass --new-vault-password-file FILE, " +
			"or run on a terminal to be prompted")
	}
	return pw, err
}

func (v *vaultPassword) input() io.Reader {
	if v.cmd == nil {
		return os.Stdin
	}
	return v.cmd.InOrStdin()
}

// openedVault is a decrypted vault file: enough to read its secrets and to
// write it back with the same password, label and mode.
type openedVault struct {
	path      string
	mode      os.FileMode
	label     string
	password  []byte
	plaintext []byte
}

// openVault reads and decrypts the vault at path with the password from v,
// for verbs that need a vault's plain text (up, apply, secrets). Its errors
// name the file and what to do, as the vault verbs' errors do.
func (v *vaultPassword) openVault(ctx context.Context, path string) (*openedVault, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, vaultFileErr("open", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, vaultFileErr("open", path, err)
	}
	vault, err := secrets.Parse(data)
	if err != nil {
		return nil, vaultFileErr("open", path, err)
	}
	pw, err := v.readFor(ctx, vault.Label, false)
	if err != nil {
		return nil, fmt.Errorf("vault open %s: %w", path, err)
	}
	plaintext, err := vault.Open(pw)
	if err != nil {
		return nil, vaultFileErr("open", path, err)
	}
	return &openedVault{path: path, mode: fi.Mode().Perm(), label: vault.Label, password: pw, plaintext: plaintext}, nil
}

// vaultFileError says what went wrong with one file and what to do next,
// and keeps the cause for errors.Is.
type vaultFileError struct {
	msg string
	err error
}

func (e *vaultFileError) Error() string { return e.msg }
func (e *vaultFileError) Unwrap() error { return e.err }

// vaultFileErr turns an error about one vault file into a message that names
// the file, the problem and the fix.
func vaultFileErr(verb, path string, err error) error {
	var msg string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg = path + " does not exist; check the path"
		if verb != "encrypt" {
			msg += ", or make a new vault with `trio vault create " + path + "`"
		}
	case errors.Is(err, secrets.ErrNotVault) && verb == "decrypt":
		msg = path + " is not encrypted (it does not start with $ANSIBLE_VAULT), so there is nothing to decrypt"
	case errors.Is(err, secrets.ErrNotVault):
		msg = path + " is not encrypted (it does not start with $ANSIBLE_VAULT); " +
			"check the path, or encrypt it first with `trio vault encrypt " + path + "`"
	case errors.Is(err, secrets.ErrAlreadyEncrypted):
		msg = path + " is already encrypted, so it was left as it is; " +
			"read it with `trio vault view " + path + "`, change its password with `trio vault rekey " + path + "`"
	case errors.Is(err, secrets.ErrDecrypt):
		msg = "cannot decrypt " + path + ": wrong vault password, or the file was modified after it was encrypted; " +
			"check the password (--vault-password-file, $" + secrets.EnvPasswordFile + ") and, " +
			"if it is right, restore " + path + " from version control"
	case errors.Is(err, secrets.ErrCorrupt):
		msg = path + " is damaged" + vaultErrDetail(err, secrets.ErrCorrupt) +
			"; it may have been truncated or edited by hand: restore it from version control or a backup"
	default:
		// ErrHeader, ErrVersion, ErrCipher and ErrPadding say what to do.
		msg = path + ": " + vaultStripOp(err.Error())
	}
	return &vaultFileError{msg: "vault " + verb + ": " + msg, err: err}
}

// vaultErrDetail returns what err says beyond sentinel after ": ", or "".
func vaultErrDetail(err, sentinel error) string {
	s := strings.TrimSuffix(vaultStripOp(err.Error()), sentinel.Error())
	s = strings.TrimSuffix(s, ": ")
	if s == "" {
		return ""
	}
	return ": " + s
}

// vaultStripOp drops the library's operation prefix, which the verb replaces.
func vaultStripOp(s string) string {
	for _, op := range []string{"parse vault: ", "open vault: ", "decrypt vault: ", "encrypt vault: "} {
		s = strings.TrimPrefix(s, op)
	}
	return s
}

// promptTerminal reports whether in is a terminal and, if so, a path that
// opens it again for a prompt. Prompting only there keeps a command in a
// pipe or a CI job from blocking on a terminal it happens to have.
func promptTerminal(in io.Reader) (path string, ok bool) {
	f, ok := in.(*os.File)
	if !ok || !isTerminalInput(f) {
		return "", false
	}
	// os.Stdin is named /dev/stdin, which Linux opens as the same terminal.
	return f.Name(), true
}

// isTerminalInput reports whether f is a terminal; /dev/null, also a
// character device, is not. It asks through SyscallConn because f.Fd would
// put the file into blocking mode.
func isTerminalInput(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		_, ioctlErr = unix.IoctlGetTermios(int(fd), unix.TCGETS)
	}); err != nil {
		return false
	}
	return ioctlErr == nil
}

// validVaultLabel applies the rule secrets.Encrypt applies to a vault-id label.
func validVaultLabel(label string) bool {
	for _, r := range label {
		if r <= ' ' || r >= 0x7f || r == ';' || r == '@' {
			return false
		}
	}
	return label != ""
}
