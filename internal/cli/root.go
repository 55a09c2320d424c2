// Package cli is trio's command line: one file per verb, each binding its
// flags into an options struct and calling a run function that returns an
// error. Exit codes are decided in one place, Main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
	"github.com/trio-stack/trio/internal/target/host"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitUsage   = 2
	ExitChanges = 3 // plan --detailed-exitcode: the plan is not empty
)

// usageError marks mistakes in how the command was called.
type usageError struct{ error }

// exitCodeError carries a specific exit code with no message of its own.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs trio with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	msg := strings.TrimSpace(err.Error())
	var ue usageError
	// cobra's own mistake for a verb that does not exist.
	unknown := strings.HasPrefix(msg, "unknown command")
	if unknown {
		msg += "; see `trio --help` for the verbs"
	}
	fmt.Fprintf(stderr, "trio: %s\n", msg)
	if errors.As(err, &ue) || unknown {
		return ExitUsage
	}
	return ExitError
}

// globals are the flags every verb that works on a stack takes.
type globals struct {
	dir    string
	file   string
	output string
	state  string
	target string
	vault  vaultPassword
	stdout io.Writer
	stderr io.Writer
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "trio",
		Short: "Run a three-tier web app (nginx, PHP-FPM, MariaDB) from one trio.yaml",
		Long: `trio runs nginx, PHP-FPM and MariaDB for one app from one file, trio.yaml:
it installs the pinned Debian packages, renders and validates every config,
supervises the processes, reloads without dropping requests and initialises
the database.

Start with:  trio init --example guestbook mysite && trio up -C mysite`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w; see `%s --help`", err, c.CommandPath())}
	})
	root.AddCommand(
		newInitCmd(g), newUpCmd(g), newDownCmd(g), newStatusCmd(g), newPlanCmd(g),
		newApplyCmd(g), newLogsCmd(g), newReloadCmd(g), newLockCmd(g), newVersionCmd(g),
		newAgentCmd(g), newVaultCmd(g), newHashPasswordCmd(g), newSecretsCmd(g), newRollbackCmd(g), newDBCmd(g),
	)
	return root
}

// stackFlags adds -C, -f, -o, --state and --target. The logs verb keeps -f
// for --follow, as tail and docker do, and takes the file as --file.
func stackFlags(c *cobra.Command, g *globals, fileShort bool) {
	f := c.Flags()
	f.StringVarP(&g.dir, "directory", "C", ".", "work in `DIR` (where trio.yaml is)")
	if fileShort {
		f.StringVarP(&g.file, "file", "f", "", "the stack `FILE` (default DIR/trio.yaml)")
	} else {
		f.StringVar(&g.file, "file", "", "the stack `FILE` (default DIR/trio.yaml)")
	}
	f.StringVar(&g.state, "state", "", "keep the stack's state in `DIR` (default .trio beside trio.yaml)")
	f.StringVar(&g.target, "target", host.Name, "where the stack runs")
}

func outputFlag(c *cobra.Command, g *globals) {
	c.Flags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
}

func (g *globals) json() (bool, error) {
	switch g.output {
	case "table", "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, usageError{fmt.Errorf("unknown output format %q; use -o table or -o json", g.output)}
}

// load finds and loads the stack file.
func (g *globals) load() (*stack.Stack, error) {
	path, err := stack.Find(g.dir, g.file)
	if err != nil {
		return nil, err
	}
	return stack.Load(path)
}

// open loads the stack and opens its target.
func (g *globals) open(ctx context.Context, opts target.Options) (*stack.Stack, target.Target, error) {
	st, err := g.load()
	if err != nil {
		return nil, nil, err
	}
	opts.StateDir = g.state
	opts.Version = host.Version(release)
	if opts.Secrets == nil {
		opts.Secrets = secretResolver(ctx, st, &g.vault)
	}
	t, err := target.Open(g.target, st, opts)
	if errors.Is(err, target.ErrUnknownTarget) {
		return nil, nil, usageError{err}
	}
	if err != nil {
		return nil, nil, err
	}
	return st, t, nil
}

// lock holds the stack for a changing command, where the target can.
func lock(t target.Target, command string) (func(), error) {
	if l, ok := t.(target.Locker); ok {
		return l.Lock(command)
	}
	return func() {}, nil
}

// tierArg reads an optional TIER argument; none selects every tier.
func tierArg(args []string) ([]stack.Tier, error) {
	if len(args) == 0 {
		return nil, nil
	}
	t, err := stack.ParseTier(args[0])
	if err != nil {
		return nil, usageError{err}
	}
	return []stack.Tier{t}, nil
}

// maxArgs is cobra.MaximumNArgs with the exit code of a usage error.
func maxArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s takes at most %d argument(s), got %q; see `%s --help`", c.Name(), n, strings.Join(args, " "), c.CommandPath())}
		}
		return nil
	}
}

// group makes a command that only holds others refuse an unknown one,
// rather than print its help and succeed.
func group(c *cobra.Command) *cobra.Command {
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unknown %s command %q; see `%s --help`", c.Name(), args[0], c.CommandPath())}
		}
		return nil
	}
	c.RunE = func(c *cobra.Command, args []string) error { return c.Help() }
	return c
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q; see `%s --help`", c.Name(), strings.Join(args, " "), c.CommandPath())}
	}
	return nil
}

// warnPlainCredentials warns about passwords written in trio.yaml, or with
// strict refuses them.
func warnPlainCredentials(st *stack.Stack, strict bool, w io.Writer) error {
	keys := st.PlainCredentials()
	if len(keys) == 0 {
		return nil
	}
	var places []string
	for _, k := range keys {
		places = append(places, fmt.Sprintf("%s (%s)", k, st.Pos(k)))
	}
	msg := "plain password in trio.yaml: " + strings.Join(places, ", ") + "; keep it in the vault instead and write {secret: NAME}"
	if strict {
		return errors.New(msg + " (refused by --strict)")
	}
	fmt.Fprintln(w, "warning: "+msg)
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
