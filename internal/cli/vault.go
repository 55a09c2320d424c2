package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/fsutil"
	"github.com/trio-stack/trio/internal/secrets"
)

// vaultTemplate is what `vault create` opens the editor on. Leaving it as
// it is cancels the create.
const vaultTemplate = `# One secret per line, as name: value. For example:
# db_password: change-me
# Lines starting with # are comments. Save and quit to encrypt this file;
# quit without changing anything to create nothing.
`

// vaultStdinName is how "-" (standard input) is named in messages.
const vaultStdinName = "stdin"

type vaultOptions struct {
	*globals
	pw vaultPassword
	// output is --output for encrypt and decrypt: a file, or "-" for stdout.
	output string
	// newFile and newID are rekey's --new-vault-password-file and --new-vault-id.
	newFile string
	newID   string
	// name is encrypt-string's --name.
	name string
}

func newVaultCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "vault",
		Short: "Create, edit and view ansible-vault encrypted files (the stack's secrets)",
		Long: `vault reads and writes files in ansible-vault's format (1.1, and 1.2 with a
vault-id label; AES256), so trio and ansible-vault work on the same files.
The stack's secrets live in one such file (secrets.vault in trio.yaml), in
plain text a YAML mapping of one "name: value" per line.

The vault password comes from --vault-password-file FILE (a file holding
the password, or an executable that prints it), else $TRIO_VAULT_PASSWORD_FILE,
else $ANSIBLE_VAULT_PASSWORD_FILE, else a prompt without echo when standard
input is a terminal. There is no flag that takes the password itself.

A command that fails leaves every file as it was: files are only written,
atomically and with their mode kept, once everything has worked.`,
		Example: `  trio vault create secrets.vault
  trio vault edit secrets.vault
  trio vault view --vault-password-file ~/.vault-pass secrets.vault
  printf %s "$PASSWORD" | trio vault encrypt-string --name db_password`,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown vault command %q; see `%s --help`", args[0], c.CommandPath())}
			}
			return c.Help()
		},
	}
	c.AddCommand(
		newVaultCreateCmd(g), newVaultEditCmd(g), newVaultViewCmd(g),
		newVaultEncryptCmd(g), newVaultDecryptCmd(g), newVaultRekeyCmd(g),
		newVaultEncryptStringCmd(g),
	)
	return c
}

func newVaultCreateCmd(g *globals) *cobra.Command {
	o := &vaultOptions{globals: g}
	c := &cobra.Command{
		Use:   "create FILE",
		Short: "Create a new encrypted file, writing its content in $EDITOR",
		Long: `create opens $VISUAL or $EDITOR (default vi) on a short template, then
encrypts what you saved into FILE (mode 0600). It refuses a FILE that
exists. Leaving the template unchanged, or an editor that exits with an
error, creates nothing. The password is asked twice on a terminal.
With --vault-id LABEL the file gets a 1.2 header carrying LABEL.`,
		Example: `  EDITOR=nano trio vault create secrets.vault
  trio vault create --vault-id prod --vault-password-file ~/.vault-pass-prod prod.vault`,
		Args: vaultExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runVaultCreate(c.Context(), o, args[0])
		},
	}
	o.pw.flags(c)
	return c
}

func newVaultEditCmd(g *globals) *cobra.Command {
	o := &vaultOptions{globals: g}
	c := &cobra.Command{
		Use:   "edit FILE",
		Short: "Decrypt FILE into $EDITOR and encrypt it again if it changed",
		Long: `edit decrypts FILE into a private temporary file (mode 0600, removed
afterwards), opens $VISUAL or $EDITOR (default vi) on it, and re-encrypts
FILE with the same password and vault-id label only if you changed
something. Otherwise, or if the editor fails, FILE is left byte for byte
as it was.`,
		Example: `  trio vault edit secrets.vault
  TRIO_VAULT_PASSWORD_FILE=~/.vault-pass EDITOR="code --wait" trio vault edit secrets.vault`,
		Args: vaultExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runVaultEdit(c.Context(), o, args[0])
		},
	}
	o.pw.flags(c)
	return c
}

func newVaultViewCmd(g *globals) *cobra.Command {
	o := &vaultOptions{globals: g}
	c := &cobra.Command{
		Use:   "view FILE...",
		Short: "Print the decrypted content of encrypted files",
		Long: `view decrypts each FILE and prints its plain text to standard output;
nothing is written to disk. "-" reads the vault from standard input.`,
		Example: `  trio vault view secrets.vault
  trio vault view --vault-password-file ~/.vault-pass secrets.vault | grep db_password`,
		Args: vaultMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runVaultView(c.Context(), o, c.InOrStdin(), args)
		},
	}
	o.pw.flags(c)
	return c
}

func newVaultEncryptCmd(g *globals) *cobra.Command {
	o := &vaultOptions{globals: g}
	c := &cobra.Command{
		Use:   "encrypt FILE...",
		Short: "Encrypt plain files in place",
		Long: `encrypt replaces each FILE by its encrypted form, keeping its mode, as
ansible-vault encrypt does. It refuses a file that is already encrypted.
With --output the one FILE is written there instead ("-" for standard
output), and FILE "-" reads standard input. The password is asked twice
on a terminal.`,
		Example: `  trio vault encrypt group_vars/prod/secrets.yml
  trio vault encrypt --vault-id prod --output secrets.vault secrets.yml
  cat secrets.yml | trio vault encrypt - > secrets.vault`,
		Args: vaultMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runVaultEncrypt(c.Context(), o, c.InOrStdin(), args)
		},
	}
	o.pw.flags(c)
	outputFileFlag(c, o)
	return c
}

func newVaultDecryptCmd(g *globals) *cobra.Command {
	o := &vaultOptions{globals: g}
	c := &cobra.Command{
		Use:   "decrypt FILE...",
		Short: "Decrypt encrypted files in place",
		Long: `decrypt replaces each FILE by its plain text, keeping its mode, as
ansible-vault decrypt does. With --output the one FILE is written there
instead ("-" for standard output); prefer trio vault view to read a vault,
since a decrypted file on disk is a secret in the clear.`,
		Example: `  trio vault decrypt secrets.vault
  trio vault decrypt --output - secrets.vault`,
		Args: vaultMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runVaultDecrypt(c.Context(), o, c.InOrStdin(), args)
		},
	}
	o.pw.flags(c)
	outputFileFlag(c, o)
	return c
}

func newVaultRekeyCmd(g *globals) *cobra.Command {
	o := &vaultOptions{globals: g}
	c := &cobra.Command{
		Use:   "rekey FILE...",
		Short: "Change the password of encrypted files",
		Long: `rekey decrypts each FILE with the current password and encrypts it with a
new one, from --new-vault-password-file or, on a terminal, a prompt asked
twice (never from the environment, which names the current password).
Each file keeps its vault-id label unless --new-vault-id gives another.
If any file cannot be opened, none is changed.`,
		Example: `  trio vault rekey --vault-password-file old.pass --new-vault-password-file new.pass secrets.vault
  trio vault rekey --new-vault-id prod secrets.vault`,
		Args: vaultMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runVaultRekey(c.Context(), o, args)
		},
	}
	o.pw.flags(c)
	c.Flags().StringVar(&o.newFile, "new-vault-password-file", "",
		"read the new password from `FILE`, or run FILE if it is executable")
	c.Flags().StringVar(&o.newID, "new-vault-id", "",
		"give the files this vault-id `LABEL` (LABEL@FILE also names the new password file)")
	return c
}

func newVaultEncryptStringCmd(g *globals) *cobra.Command {
	o := &vaultOptions{globals: g}
	c := &cobra.Command{
		Use:     "encrypt-string [--name NAME] [VALUE]",
		Aliases: []string{"encrypt_string"},
		Short:   "Encrypt one value into a `name: !vault |` snippet for a YAML file",
		Long: `encrypt-string encrypts one value and prints it as ansible-vault
encrypt_string does, ready to paste into a YAML vars file:

  db_password: !vault |
            $ANSIBLE_VAULT;1.1;AES256
            3431...

The value is read from standard input when VALUE is omitted or "-"; one
trailing line break is dropped, so echo works. A VALUE on the command line
is accepted, as Ansible accepts it, but it ends up in shell history and the
process list, so trio warns about it. The password is asked twice on a
terminal.`,
		Example: `  printf %s "$DB_PASSWORD" | trio vault encrypt-string --name db_password
  trio vault encrypt-string --name api_key < api_key.txt >> group_vars/all.yml`,
		Args: vaultMaxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runVaultEncryptString(c.Context(), o, c.InOrStdin(), args)
		},
	}
	o.pw.flags(c)
	c.Flags().StringVar(&o.name, "name", "", "the variable `NAME` to print before the value")
	return c
}

func outputFileFlag(c *cobra.Command, o *vaultOptions) {
	c.Flags().StringVar(&o.output, "output", "", "write to `FILE` instead of in place (\"-\" for standard output); needs exactly one input FILE")
}

func runVaultCreate(ctx context.Context, o *vaultOptions, path string) error {
	if err := o.pw.check(); err != nil {
		return err
	}
	if err := checkVaultCreate(path); err != nil {
		return err
	}
	pw, err := o.pw.read(ctx, true)
	if err != nil {
		return fmt.Errorf("vault create %s: %w", path, err)
	}
	// Ctrl-C stops the editor and still removes its plain-text temp file.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	text, changed, err := secrets.EditInTempFile(ctx, "", []byte(vaultTemplate))
	if err != nil {
		return fmt.Errorf("vault create %s: %w; %s was not created", path, err, path)
	}
	if !changed {
		return fmt.Errorf("vault create %s: the template was left unchanged, so %s was not created; "+
			"add at least one `name: value` line and save", path, path)
	}
	data, err := secrets.Encrypt(text, pw, o.pw.label())
	if err != nil {
		return fmt.Errorf("vault create %s: %w; %s was not created", path, err, path)
	}
	// Someone may have made the file while the editor was open.
	if err := checkVaultCreate(path); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("vault create: %w", err)
	}
	warnSecretsFormat(o.stderr, path, text, pw)
	fmt.Fprintf(o.stderr, "created %s\n", path)
	return nil
}

// checkVaultCreate refuses a path that exists or whose directory does not,
// before the user spends time in the editor.
func checkVaultCreate(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("vault create: %s already exists; change it with `trio vault edit %s`, "+
			"or remove it first to start over", path, path)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("vault create: directory %s does not exist; create it first", dir)
	}
	return nil
}

func runVaultEdit(ctx context.Context, o *vaultOptions, path string) error {
	const verb = "edit"
	if err := o.pw.check(); err != nil {
		return err
	}
	f, err := loadVaultFile(verb, path, nil)
	if err != nil {
		return err
	}
	pw, err := o.pw.readFor(ctx, f.vault.Label, false)
	if err != nil {
		return fmt.Errorf("vault edit %s: %w", path, err)
	}
	plain, err := f.vault.Open(pw)
	if err != nil {
		return vaultFileErr(verb, path, err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	edited, changed, err := secrets.EditInTempFile(ctx, "", plain)
	if err != nil {
		return fmt.Errorf("vault edit %s: %w; %s is unchanged", path, err, path)
	}
	if !changed {
		fmt.Fprintf(o.stderr, "%s unchanged\n", path)
		return nil
	}
	data, err := secrets.Encrypt(edited, pw, f.vault.Label)
	if err != nil {
		return fmt.Errorf("vault edit %s: %w; %s is unchanged", path, err, path)
	}
	if err := fsutil.WriteFileAtomic(f.path, data, f.mode); err != nil {
		return fmt.Errorf("vault edit: %w", err)
	}
	warnSecretsFormat(o.stderr, path, edited, pw)
	fmt.Fprintf(o.stderr, "saved %s\n", path)
	return nil
}

func runVaultView(ctx context.Context, o *vaultOptions, stdin io.Reader, paths []string) error {
	const verb = "view"
	if err := o.pw.check(); err != nil {
		return err
	}
	files, err := loadVaultFiles(verb, paths, stdin)
	if err != nil {
		return err
	}
	pw, err := o.pw.readFor(ctx, files[0].vault.Label, false)
	if err != nil {
		return fmt.Errorf("vault view: %w", err)
	}
	// Decrypt all before printing any, so a failure prints no half output.
	var out bytes.Buffer
	for _, f := range files {
		plain, err := f.vault.Open(pw)
		if err != nil {
			return vaultFileErr(verb, f.name, err)
		}
		out.Write(plain)
		if isTerminal(o.stdout) && len(plain) > 0 && plain[len(plain)-1] != '\n' {
			out.WriteByte('\n') // keep the shell prompt on its own line
		}
	}
	_, err = o.stdout.Write(out.Bytes())
	return err
}

func runVaultEncrypt(ctx context.Context, o *vaultOptions, stdin io.Reader, paths []string) error {
	const verb = "encrypt"
	if err := o.checkOutput(paths); err != nil {
		return err
	}
	if err := o.pw.check(); err != nil {
		return err
	}
	files, err := loadVaultInputs(verb, paths, stdin)
	if err != nil {
		return err
	}
	for _, f := range files {
		if secrets.IsEncrypted(f.data) {
			return vaultFileErr(verb, f.name, secrets.ErrAlreadyEncrypted)
		}
	}
	pw, err := o.pw.read(ctx, true)
	if err != nil {
		return fmt.Errorf("vault encrypt: %w", err)
	}
	for _, f := range files {
		if f.out, err = secrets.Encrypt(f.data, pw, o.pw.label()); err != nil {
			return vaultFileErr(verb, f.name, err)
		}
	}
	return o.writeAll(verb, files)
}

func runVaultDecrypt(ctx context.Context, o *vaultOptions, stdin io.Reader, paths []string) error {
	const verb = "decrypt"
	if err := o.checkOutput(paths); err != nil {
		return err
	}
	if err := o.pw.check(); err != nil {
		return err
	}
	files, err := loadVaultFiles(verb, paths, stdin)
	if err != nil {
		return err
	}
	pw, err := o.pw.readFor(ctx, files[0].vault.Label, false)
	if err != nil {
		return fmt.Errorf("vault decrypt: %w", err)
	}
	for _, f := range files {
		if f.out, err = f.vault.Open(pw); err != nil {
			return vaultFileErr(verb, f.name, err)
		}
	}
	return o.writeAll(verb, files)
}

func runVaultRekey(ctx context.Context, o *vaultOptions, paths []string) error {
	const verb = "rekey"
	if err := o.pw.check(); err != nil {
		return err
	}
	newLabel, newSrc, hasSrc := strings.Cut(o.newID, "@")
	switch {
	case o.newID != "" && !validVaultLabel(newLabel):
		return usageError{fmt.Errorf("--new-vault-id %q: %w", o.newID, secrets.ErrLabel)}
	case hasSrc && (newSrc == "" || newSrc == promptSource) && o.newFile == "":
		// LABEL@prompt: the default without a new password file.
	case hasSrc && o.newFile != "":
		return usageError{errors.New("--new-vault-id LABEL@FILE and --new-vault-password-file both name the new password; pass one of them")}
	case hasSrc:
		o.newFile = newSrc
	}
	for _, p := range paths {
		if p == "-" {
			return usageError{errors.New("rekey changes files in place and cannot read standard input; name the files")}
		}
	}
	files, err := loadVaultFiles(verb, paths, nil)
	if err != nil {
		return err
	}
	pw, err := o.pw.readFor(ctx, files[0].vault.Label, false)
	if err != nil {
		return fmt.Errorf("vault rekey: current password: %w", err)
	}
	plain := make([][]byte, len(files))
	for i, f := range files {
		if plain[i], err = f.vault.Open(pw); err != nil {
			return vaultFileErr(verb, f.name, err)
		}
	}
	newPW, err := o.pw.readNew(ctx, o.newFile, newLabel)
	if err != nil {
		return fmt.Errorf("vault rekey: %w", err)
	}
	for i, f := range files {
		label := f.vault.Label
		if newLabel != "" {
			label = newLabel
		}
		if f.out, err = secrets.Encrypt(plain[i], newPW, label); err != nil {
			return vaultFileErr(verb, f.name, err)
		}
	}
	return o.writeAll(verb, files)
}

func runVaultEncryptString(ctx context.Context, o *vaultOptions, stdin io.Reader, args []string) error {
	if err := o.pw.check(); err != nil {
		return err
	}
	fromStdin := len(args) == 0 || args[0] == "-"
	if !fromStdin {
		io.WriteString(o.stderr, "warning: a value on the command line can end up in shell history and the process list; "+
			"pipe it on standard input instead: printf '%s' \"$VALUE\" | trio vault encrypt-string --name NAME\n")
	}
	pw, err := o.pw.read(ctx, true)
	if err != nil {
		return fmt.Errorf("vault encrypt-string: %w", err)
	}
	var value []byte
	if fromStdin {
		if _, tty := promptTerminal(stdin); tty {
			fmt.Fprintln(o.stderr, "Reading the value from standard input; end it with Ctrl-D.")
		}
		if value, err = io.ReadAll(stdin); err != nil {
			return fmt.Errorf("vault encrypt-string: read standard input: %w", err)
		}
		value = trimFinalLineBreak(value)
	} else {
		value = []byte(args[0])
	}
	if len(value) == 0 {
		return errors.New("vault encrypt-string: the value is empty, nothing to encrypt; " +
			"pipe the value on standard input or give it as VALUE")
	}
	snippet, err := secrets.EncryptString(value, pw, o.name, o.pw.label())
	if err != nil {
		return fmt.Errorf("vault encrypt-string: %w", err)
	}
	_, err = fmt.Fprintln(o.stdout, snippet)
	return err
}

// trimFinalLineBreak drops one trailing "\n" or "\r\n".
func trimFinalLineBreak(b []byte) []byte {
	b, _ = bytes.CutSuffix(b, []byte("\n"))
	b, _ = bytes.CutSuffix(b, []byte("\r"))
	return b
}

// checkOutput refuses --output with more than one input, as Ansible does.
func (o *vaultOptions) checkOutput(paths []string) error {
	if o.output != "" && len(paths) > 1 {
		return usageError{fmt.Errorf("--output takes exactly one input FILE, got %d", len(paths))}
	}
	n := 0
	for _, p := range paths {
		if p == "-" {
			n++
		}
	}
	if n > 1 {
		return usageError{errors.New(`standard input ("-") can be read only once`)}
	}
	return nil
}

// vaultFile is one input of a vault verb and what will be written for it.
type vaultFile struct {
	name  string         // as given, for messages
	path  string         // where in-place writes go: past any symlink; "-" for stdin
	mode  os.FileMode    // kept by in-place writes
	data  []byte         // the content read
	vault *secrets.Vault // the parsed envelope, for encrypted inputs
	out   []byte         // the new content
}

// loadVaultInputs reads every input; path "-" reads stdin.
func loadVaultInputs(verb string, paths []string, stdin io.Reader) ([]*vaultFile, error) {
	var files []*vaultFile
	for _, p := range paths {
		f, err := loadVaultInput(verb, p, stdin)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func loadVaultInput(verb, path string, stdin io.Reader) (*vaultFile, error) {
	if path == "-" && stdin != nil {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("vault %s: read standard input: %w", verb, err)
		}
		return &vaultFile{name: vaultStdinName, path: "-", mode: 0o600, data: data}, nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, vaultFileErr(verb, path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, vaultFileErr(verb, path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("vault %s: %s is a directory; name a file", verb, path)
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return nil, vaultFileErr(verb, path, err)
	}
	return &vaultFile{name: path, path: real, mode: fi.Mode().Perm(), data: data}, nil
}

// loadVaultFile reads and parses one encrypted input, so that a file that is
// not a vault at all is reported before anyone is asked for a password.
func loadVaultFile(verb, path string, stdin io.Reader) (*vaultFile, error) {
	f, err := loadVaultInput(verb, path, stdin)
	if err != nil {
		return nil, err
	}
	if f.vault, err = secrets.Parse(f.data); err != nil {
		return nil, vaultFileErr(verb, f.name, err)
	}
	return f, nil
}

func loadVaultFiles(verb string, paths []string, stdin io.Reader) ([]*vaultFile, error) {
	var files []*vaultFile
	for _, p := range paths {
		f, err := loadVaultFile(verb, p, stdin)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// writeAll writes every file's new content: to --output, to stdout for
// stdin or "-", or in place with the file's mode kept.
func (o *vaultOptions) writeAll(verb string, files []*vaultFile) error {
	for _, f := range files {
		dst, mode := f.path, f.mode
		if o.output != "" {
			dst, mode = o.output, 0o600
			if real, err := filepath.EvalSymlinks(o.output); err == nil {
				dst = real
				if fi, err := os.Stat(real); err == nil {
					mode = fi.Mode().Perm()
				}
			}
		}
		if dst == "-" {
			if _, err := o.stdout.Write(f.out); err != nil {
				return fmt.Errorf("vault %s: %w", verb, err)
			}
			continue
		}
		if err := fsutil.WriteFileAtomic(dst, f.out, mode); err != nil {
			return fmt.Errorf("vault %s: %w", verb, err)
		}
		done := map[string]string{"encrypt": "encrypted", "decrypt": "decrypted", "rekey": "rekeyed"}[verb] + " " + f.name
		if o.output != "" {
			done += " to " + o.output
		}
		fmt.Fprintln(o.stderr, done)
	}
	return nil
}

// warnSecretsFormat warns when a vault trio made is not the `name: value`
// mapping trio reads secrets from. It only warns: a vault may hold other
// things, and the user's edit is saved either way.
func warnSecretsFormat(w io.Writer, path string, plaintext, password []byte) {
	if _, err := secrets.ParseSecrets(plaintext, password); err != nil {
		fmt.Fprintf(w, "warning: %s: trio cannot read secrets from it: %v\n", path, err)
	}
}

// vaultExactArgs, vaultMinArgs and vaultMaxArgs check the argument count as
// cobra's do, but as usage errors (exit 2).
func vaultExactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %d argument(s), got %d; see `%s --help`", c.Name(), n, len(args), c.CommandPath())}
		}
		return nil
	}
}

func vaultMinArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Errorf("%s needs at least %d FILE argument(s); see `%s --help`", c.Name(), n, c.CommandPath())}
		}
		return nil
	}
}

func vaultMaxArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s takes at most %d argument(s), got %d; see `%s --help`", c.Name(), n, len(args), c.CommandPath())}
		}
		return nil
	}
}
