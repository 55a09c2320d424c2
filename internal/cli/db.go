package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/db/cluster"
	"github.com/trio-stack/trio/internal/stack"
	"github.com/trio-stack/trio/internal/target"
)

func newDBCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "db",
		Short: "The database: topology, switchover and failover, backups, a shell",
		Long: `db administers the stack's MariaDB. With db.replicas in trio.yaml the agent
runs automatic failover; these commands show it and act on it by hand.`,
	}
	c.AddCommand(newDBStatusCmd(g), newDBSwitchoverCmd(g), newDBFailoverCmd(g),
		newDBBackupCmd(g), newDBRestoreCmd(g), newDBShellCmd(g), newDBDumpCmd(g))
	return group(c)
}

// database opens the stack's target as a database administrator.
func (g *globals) database(ctx context.Context) (*stack.Stack, target.Database, error) {
	st, t, err := g.open(ctx, target.Options{})
	if err != nil {
		return nil, nil, err
	}
	d, ok := t.(target.Database)
	if !ok {
		return nil, nil, fmt.Errorf("the %s target does not administer databases", g.target)
	}
	return st, d, nil
}

// lockDatabase holds the stack for a command that changes the database.
func lockDatabase(d target.Database, command string) (func(), error) {
	if t, ok := d.(target.Target); ok {
		return lock(t, command)
	}
	return func() {}, nil
}

// jsonAndLog says whether -o json is on, and where progress goes: to
// standard error then, so standard output holds nothing but the JSON.
func (g *globals) jsonAndLog() (bool, io.Writer, error) {
	asJSON, err := g.json()
	if asJSON {
		return true, g.stderr, err
	}
	return false, g.stdout, err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newDBStatusCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the topology: roles, GTID positions, lag, semi-sync, the last failover",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			st, d, err := g.database(c.Context())
			if err != nil {
				return err
			}
			t, err := d.DBStatus(c.Context(), st)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g.stdout, t)
			}
			printTopology(g.stdout, t)
			return nil
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	return c
}

func printTopology(w io.Writer, t cluster.Topology) {
	fmt.Fprintf(w, "primary %s", t.Primary)
	if len(t.PromotedAt) > 0 {
		fmt.Fprintf(w, " (promoted at %s)", t.PromotedAt)
	}
	if t.Paused {
		fmt.Fprint(w, ", automatic failover paused")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tREAD-ONLY\tGTID\tREPLICATES\tLAG\tSEMI-SYNC\tWRITE\tREAD")
	for _, n := range t.Nodes {
		ro, repl, lag, semi := "-", "-", "-", "-"
		if n.Reachable {
			ro = map[bool]string{true: "yes", false: "no"}[n.ReadOnly]
			semi = "off"
			switch {
			case n.SemiSync.MasterOn:
				semi = fmt.Sprintf("primary, %d replica(s)", n.SemiSync.MasterClients)
			case n.SemiSync.SlaveOn:
				semi = "replica"
			}
		}
		if r := n.Replication; r != nil {
			repl = fmt.Sprintf("from %s (io %s, sql %t)", r.Master, r.IOThread, r.SQLThread)
			if r.LagSeconds != nil {
				lag = fmt.Sprintf("%ds", *r.LagSeconds)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Role, ro, cmp.Or(n.CurrentPos.String(), "-"), repl, lag, semi, cmp.Or(n.Write, "-"), cmp.Or(n.Read, "-"))
	}
	tw.Flush()
	for _, n := range t.Nodes {
		if n.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", n.Name, n.Error)
		}
	}
	if f := t.LastFailover; f != nil {
		fmt.Fprintf(w, "last %s: %s → %s at %s, took %s (%s)\n", f.Kind, f.From, f.To, f.At.Format("2006-01-02 15:04:05"), f.Took, f.Reason)
	}
	if t.Held != "" {
		fmt.Fprintln(w, "held back: "+t.Held)
	}
}

func newDBSwitchoverCmd(g *globals) *cobra.Command {
	var to string
	c := &cobra.Command{
		Use:   "switchover [--to NODE]",
		Short: "Move the primary role to a replica without losing a write",
		Long: `switchover moves the primary role on purpose: writes pause only while the
new primary applies the last transactions, nothing acknowledged is lost, and
the old primary follows the new one. Without --to the most advanced replica
is chosen.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runDBAction(c, g, "switchover", to)
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	c.Flags().StringVar(&to, "to", "", "the replica to promote, such as db-1")
	return c
}

func newDBFailoverCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "failover",
		Short: "Promote the most advanced replica now, as if the primary had failed",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runDBAction(c, g, "failover", "")
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	return c
}

func runDBAction(c *cobra.Command, g *globals, action, to string) error {
	asJSON, err := g.json()
	if err != nil {
		return err
	}
	st, d, err := g.database(c.Context())
	if err != nil {
		return err
	}
	t, err := d.DBAction(c.Context(), st, action, to)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(g.stdout, t)
	}
	printTopology(g.stdout, t)
	return nil
}

func newDBBackupCmd(g *globals) *cobra.Command {
	var opts target.BackupOptions
	c := &cobra.Command{
		Use:   "backup [--logical] [--dir DIR]",
		Short: "Back up the database (mariadb-backup, or a dump) with a manifest",
		Long: `backup copies the database while it serves: with mariadb-backup by default
(a consistent physical copy), or with --logical as a mariadb-dump. A replica is
copied when there is one, so the primary carries no extra load. The backup is a
new directory below db.backup.dir holding the compressed copy and
manifest.json (time, GTID position, sha256 of every file).`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			asJSON, log, err := g.jsonAndLog()
			if err != nil {
				return err
			}
			st, d, err := g.database(c.Context())
			if err != nil {
				return err
			}
			m, dir, err := d.Backup(c.Context(), st, opts, newProgress(log).report)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g.stdout, map[string]any{"dir": dir, "manifest": m})
			}
			var size int64
			for _, f := range m.Files {
				size += f.Size
			}
			fmt.Fprintf(g.stdout, "backed up %s (%s, %d bytes, GTID %s) to %s\n", m.Node, m.Method, size, m.GTID, dir)
			return nil
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	c.Flags().BoolVar(&opts.Logical, "logical", false, "a mariadb-dump instead of a physical copy")
	c.Flags().StringVar(&opts.Dir, "dir", "", "put the backup below `DIR` (default db.backup.dir)")
	c.Flags().IntVar(&opts.Keep, "keep", 0, "afterwards keep only the newest `N` backups there")
	return c
}

func newDBRestoreCmd(g *globals) *cobra.Command {
	var opts target.RestoreOptions
	c := &cobra.Command{
		Use:   "restore BACKUP [--verify]",
		Short: "Restore a backup (into a stopped stack), or --verify it on a scratch server",
		Long: `restore checks the backup's checksums, then puts it in place. A physical
backup goes into a stopped stack (trio down first): the current data directory
is moved aside, never deleted, and replicas are copied afresh at the next trio
up. A logical backup is loaded into the running primary.

With --verify nothing is touched: the backup is restored into a scratch
server, started, and every table of the app is checksummed.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("restore takes the backup's directory; see `trio db restore --help`")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			asJSON, log, err := g.jsonAndLog()
			if err != nil {
				return err
			}
			st, d, err := g.database(c.Context())
			if err != nil {
				return err
			}
			if !opts.Verify {
				unlock, err := lockDatabase(d, "db restore")
				if err != nil {
					return err
				}
				defer unlock()
			}
			res, err := d.Restore(c.Context(), st, args[0], opts, newProgress(log).report)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g.stdout, res)
			}
			if opts.Verify {
				fmt.Fprintf(g.stdout, "verified %s: restored and started on a scratch server, %d tables checksummed\n", args[0], len(res.Tables))
				return nil
			}
			fmt.Fprintf(g.stdout, "restored %s (GTID %s)\n", args[0], res.Manifest.GTID)
			if len(res.MovedAside) > 0 {
				fmt.Fprintf(g.stdout, "the previous data is kept in %s\n", strings.Join(res.MovedAside, ", "))
			}
			return nil
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	c.Flags().BoolVar(&opts.Verify, "verify", false, "restore into a scratch server and check, touching nothing")
	return c
}

func newDBShellCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "shell [-- MARIADB ARGS]",
		Short: "Open the mariadb client on the primary, in the app's database",
		RunE: func(c *cobra.Command, args []string) error {
			st, d, err := g.database(c.Context())
			if err != nil {
				return err
			}
			return d.Shell(c.Context(), st, args, os.Stdin, g.stdout, g.stderr)
		},
	}
	stackFlags(c, g, true)
	return c
}

func newDBDumpCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "dump",
		Short: "Write a mariadb-dump of the app's database to standard output",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			st, d, err := g.database(c.Context())
			if err != nil {
				return err
			}
			return d.Dump(c.Context(), st, g.stdout)
		},
	}
	stackFlags(c, g, true)
	return c
}
