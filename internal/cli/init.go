package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trio-stack/trio/examples"
	"github.com/trio-stack/trio/internal/stack"
)

type initOptions struct {
	*globals
	example string
	force   bool
}

func newInitCmd(g *globals) *cobra.Command {
	o := &initOptions{globals: g}
	c := &cobra.Command{
		Use:   "init [--example NAME] DIR",
		Short: "Create a new stack: a trio.yaml and a starting app in DIR",
		Long: `init writes a trio.yaml and a minimal PHP app into DIR (created if needed),
or with --example a complete example app (` + strings.Join(examples.Names(), ", ") + `).
It never overwrites an existing trio.yaml unless --force.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("init takes the directory to create the stack in; see `trio init --help`")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return runInit(o, args[0])
		},
	}
	c.Flags().StringVar(&o.example, "example", "", "start from an example app: "+strings.Join(examples.Names(), ", "))
	c.Flags().BoolVar(&o.force, "force", false, "overwrite existing files")
	return c
}

func runInit(o *initOptions, dir string) error {
	src, err := starter(o.example)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, stack.FileName)); err == nil && !o.force {
		return fmt.Errorf("%s already exists; edit it, or pass --force to overwrite it", filepath.Join(dir, stack.FileName))
	}
	n := 0
	err = fs.WalkDir(src, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, path)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if path == "trio.lock" {
			return nil // locks belong to the machine that made them
		}
		if _, err := os.Stat(dst); err == nil && !o.force {
			return fmt.Errorf("%s already exists; pass --force to overwrite it", dst)
		}
		data, err := fs.ReadFile(src, path)
		if err != nil {
			return err
		}
		n++
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	fmt.Fprintf(o.stdout, "wrote %d files to %s\nnext: trio up -C %s\n", n, dir, dir)
	return nil
}

func starter(example string) (fs.FS, error) {
	if example == "" {
		return skeleton, nil
	}
	if !slices.Contains(examples.Names(), example) {
		return nil, usageError{errors.New("unknown example " + example + "; choose one of: " + strings.Join(examples.Names(), ", "))}
	}
	return examples.FS(example)
}
