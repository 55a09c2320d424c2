package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/internal/target/host"
)

// release is trio's version.
const release = "0.1.0"

type versionInfo struct {
	Version  string `json:"version"`
	Build    string `json:"build"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func currentVersion() versionInfo {
	v := versionInfo{Version: release, Build: host.Version(release), Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

func newVersionCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "version",
		Short: "Print trio's version",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			v := currentVersion()
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(v)
			}
			commit := v.Commit
			if len(commit) > 12 {
				commit = commit[:12]
			}
			if v.Modified {
				commit += "-modified"
			}
			fmt.Fprintf(g.stdout, "trio %s (build %s, commit %s, %s, %s)\n", v.Version, v.Build, cmp.Or(commit, "unknown"), v.Go, v.Platform)
			return nil
		},
	}
	outputFlag(c, g)
	return c
}
