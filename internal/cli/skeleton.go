package cli

import (
	"embed"
	"io/fs"
)

//go:embed skeleton
var skeletonFiles embed.FS

// skeleton is the starting app `trio init` writes without --example.
var skeleton, _ = fs.Sub(skeletonFiles, "skeleton")
