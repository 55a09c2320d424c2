package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/target"
)

func newStatusCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show every instance, its process and health, and the app's URL",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			st, t, err := g.open(c.Context(), target.Options{})
			if err != nil {
				return err
			}
			s, err := t.Status(c.Context(), st)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			printStatus(g, s)
			return nil
		},
	}
	stackFlags(c, g, true)
	outputFlag(c, g)
	return c
}

func printStatus(g *globals, s *target.Status) {
	fmt.Fprintf(g.stdout, "stack %s on %s, agent %s\n", s.Stack, s.Target, s.Agent)
	health := "down"
	if s.Health != "" {
		health = s.Health
	}
	fmt.Fprintf(g.stdout, "url   %s  health: %s\n\n", s.URL, health)
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSTATE\tHEALTHY\tROLE\tPID\tUP\tRESTARTS\tADDRESS")
	for _, i := range s.Instances {
		pid, up, healthy := "-", "-", "-"
		if i.PID > 0 {
			pid = fmt.Sprint(i.PID)
			up = time.Since(i.Since).Round(time.Second).String()
			healthy = map[bool]string{true: "yes", false: "no"}[i.Healthy]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", i.Name, i.State, healthy, cmp.Or(i.LB, "-"), pid, up, i.Restarts, i.Address)
	}
	tw.Flush()
	if e := s.Edge; e != nil {
		fmt.Fprintf(g.stdout, "\nedge since the last HAProxy reload: requests %d, refused %d (rate-limited: %d, conn-limited: %d, denied: %d, too-large: %d), invalid or too slow: %d, redirected to https: %d\n",
			e["requests"], e["refused"], e["rate_limited"], e["conn_limited"], e["denied"], e["too_large"], e["invalid"], e["redirected"])
	}
	for _, i := range s.Instances {
		if i.LastExit != "" && i.State != "running" {
			fmt.Fprintf(g.stdout, "\n%s last %s\n", i.Name, i.LastExit)
		}
		if i.Detail != "" {
			fmt.Fprintf(g.stdout, "%s is crash-looping; its log ends:\n%s\n", i.Name, strings.TrimRight(i.Detail, "\n"))
		}
	}
}
