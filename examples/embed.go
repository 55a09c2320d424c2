// Package examples ships the example apps inside the trio binary, for
// `trio init --example NAME`.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed guestbook
var files embed.FS

// Names lists the examples.
func Names() []string { return []string{"guestbook"} }

// FS returns the files of one example, rooted at its directory.
func FS(name string) (fs.FS, error) { return fs.Sub(files, name) }
