package apt

import "context"

// The functions below run the real programs on this machine; they are the
// methods of a zero Apt.

// Resolve is Apt.Resolve on this machine.
func Resolve(ctx context.Context, versions map[Component]string) (*Lock, error) {
	return new(Apt).Resolve(ctx, versions)
}

// Observe is Apt.Observe on this machine.
func Observe(ctx context.Context, pkgs []string) (Installed, error) {
	return new(Apt).Observe(ctx, pkgs)
}

// Install is Apt.Install on this machine.
func Install(ctx context.Context, pkgs []PkgVersion, progress func(Progress)) error {
	return new(Apt).Install(ctx, pkgs, progress)
}

// ProgramVersion is Apt.ProgramVersion on this machine.
func ProgramVersion(ctx context.Context, c Component, prefix string) (string, error) {
	return new(Apt).ProgramVersion(ctx, c, prefix)
}

// Update runs apt-get update on this machine, reporting its progress.
func Update(ctx context.Context, progress func(Progress)) error {
	if progress == nil {
		progress = func(Progress) {}
	}
	return (&Apt{}).update(ctx, progress)
}
