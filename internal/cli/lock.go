package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/apt"
	"github.com/trio-stack/trio/internal/target/host"
)

func newLockCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "lock",
		Short: "Pin the exact Debian builds of the versions trio.yaml asks for, in trio.lock",
		Long: `lock resolves each pinned version in trio.yaml (nginx "1.22", php "8.2",
mariadb "10.11") to the exact Debian build apt offers now and writes them to
trio.lock beside trio.yaml. trio up then installs exactly those builds and
refuses a host that has drifted from them. Commit trio.lock with trio.yaml.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			st, err := g.load()
			if err != nil {
				return err
			}
			l, err := apt.Resolve(c.Context(), host.Components(st))
			if err != nil {
				return err
			}
			path := filepath.Join(st.Dir, apt.LockFile)
			if err := l.Write(path); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"file": path, "packages": l.Packages()})
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PACKAGE\tVERSION\tARCH")
			for _, p := range l.Packages() {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Version, p.Arch)
			}
			tw.Flush()
			fmt.Fprintf(g.stdout, "wrote %s\n", path)
			return nil
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	return c
}
