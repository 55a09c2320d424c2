package cli

import (
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/fsutil"
	"github.com/trio-stack/trio/internal/secrets"
	"github.com/trio-stack/trio/internal/stack"
)

func newSecretsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "secrets",
		Short: "List and rotate the secrets trio.yaml uses",
		Long: `secrets works on the vault named by secrets.vault in trio.yaml, the file
that {secret: NAME} values come from. Use trio vault to edit it by hand.`,
	}
	c.AddCommand(newSecretsListCmd(g), newSecretsRotateCmd(g))
	return group(c)
}

func newSecretsListCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the secrets in the vault and the trio.yaml keys that use them (never the values)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			st, err := g.load()
			if err != nil {
				return err
			}
			if st.Secrets.Vault == "" {
				return fmt.Errorf("trio.yaml names no vault; add `secrets: {vault: secrets.vault}` and create it with `trio vault create secrets.vault`")
			}
			v := newStackVault(c.Context(), st, &g.vault)
			if err := v.open(); err != nil {
				return err
			}
			used := usedSecrets(st)
			type row struct {
				Name   string   `json:"name"`
				UsedBy []string `json:"used_by"`
			}
			var rows []row
			for _, name := range sortedSecretNames(v.values, used) {
				rows = append(rows, row{Name: name, UsedBy: used[name]})
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SECRET\tUSED BY")
			for _, r := range rows {
				by := strings.Join(r.UsedBy, ", ")
				if _, ok := v.values[r.Name]; !ok {
					by += "  (MISSING from the vault)"
				}
				fmt.Fprintf(tw, "%s\t%s\n", r.Name, cmp.Or(by, "-"))
			}
			return tw.Flush()
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	g.vault.flags(c)
	return c
}

// usedSecrets maps each secret name to the trio.yaml keys that name it.
func usedSecrets(st *stack.Stack) map[string][]string {
	out := map[string][]string{}
	add := func(key string, v stack.Value) {
		if v.IsSecret() {
			out[v.Secret] = append(out[v.Secret], key)
		}
	}
	add("db.password", st.DB.Password)
	add("db.root_password", st.DB.RootPassword)
	for k, v := range st.App.Env {
		add("app.env."+k, v)
	}
	for k, u := range st.Users {
		add("users."+k+".password", u.Password)
	}
	if t := st.TLS; t != nil {
		add("tls.cert", t.Cert)
		add("tls.key", t.Key)
	}
	for _, keys := range out {
		slices.Sort(keys)
	}
	return out
}

func sortedSecretNames(values map[string]string, used map[string][]string) []string {
	var names []string
	for n := range values {
		names = append(names, n)
	}
	for n := range used {
		if _, ok := values[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

type rotateOptions struct {
	applyOptions
	valueFile string
	length    int
}

func newSecretsRotateCmd(g *globals) *cobra.Command {
	o := &rotateOptions{applyOptions: applyOptions{globals: g}}
	c := &cobra.Command{
		Use:   "rotate NAME",
		Short: "Give a secret a new value and apply it end to end, without a failed request",
		Long: `rotate puts a new value for NAME into the vault (random unless --value-file),
then applies it like trio apply: for the database password the account first
accepts the old and the new password, the app instances reload with the new
one, then the old one is retired, so no request fails on the way.

  trio secrets rotate db_password
  trio secrets rotate db_password --value-file new.txt   # or - for stdin`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("rotate takes one secret name, got %d; see `trio secrets rotate --help`", len(args))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return runRotate(c, o, args[0])
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	o.flags(c)
	c.Flags().StringVar(&o.valueFile, "value-file", "", "read the new value from `FILE` (- for standard input) instead of generating one")
	c.Flags().IntVar(&o.length, "length", 32, "length of a generated value")
	return c
}

func runRotate(c *cobra.Command, o *rotateOptions, name string) error {
	st, err := o.load()
	if err != nil {
		return err
	}
	if st.Secrets.Vault == "" {
		return errors.New("trio.yaml names no vault (secrets.vault); there is nothing to rotate")
	}
	if len(usedSecrets(st)[name]) == 0 {
		return usageError{fmt.Errorf("trio.yaml uses no secret named %q; `trio secrets list` shows the ones it uses", name)}
	}
	value, err := o.newValue(c.InOrStdin())
	if err != nil {
		return err
	}
	v := newStackVault(c.Context(), st, &o.vault)
	if err := v.open(); err != nil {
		return err
	}
	plain, err := secrets.SetSecret(v.opened.plaintext, name, value)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", name, err)
	}
	enc, err := secrets.Encrypt(plain, v.opened.password, v.opened.label)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", name, err)
	}
	if err := fsutil.WriteFileAtomic(v.path, enc, v.opened.mode); err != nil {
		return err
	}
	fmt.Fprintf(o.stderr, "%s has a new value in %s; applying it\n", name, v.path)
	// The apply reads the vault again, with the password already given.
	o.vault.cached = v.opened.password
	_, err = runApply(c.Context(), &o.applyOptions, false)
	return err
}

func (o *rotateOptions) newValue(stdin io.Reader) (string, error) {
	if o.valueFile == "" {
		if o.length < 16 || o.length > 256 {
			return "", usageError{errors.New("--length must be from 16 to 256")}
		}
		return randomValue(o.length)
	}
	var b []byte
	var err error
	if o.valueFile == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
	} else {
		b, err = os.ReadFile(o.valueFile)
	}
	if err != nil {
		return "", fmt.Errorf("read the new value: %w", err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", errors.New("the new value is empty; a secret needs a value")
	}
	return v, nil
}

// randomValue makes a password of letters and digits, which every program
// and config format takes without quoting.
func randomValue(n int) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		// 62 does not divide 256; the bias of a byte modulo 62 is small but
		// real, so redraw the few values past the last whole multiple.
		for b[i] >= 248 {
			var one [1]byte
			if _, err := rand.Read(one[:]); err != nil {
				return "", err
			}
			b[i] = one[0]
		}
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}
