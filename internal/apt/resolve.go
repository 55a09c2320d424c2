package apt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Resolve finds, for each component in versions (the versions: block of
// trio.yaml, component → prefix), the highest build in apt's cache that
// matches the prefix, and returns a Lock pinning those builds. It only
// reads apt's cache; it never runs apt-get update.
//
// The packages of one component come from one Debian source package and
// depend on each other at exact versions, so Resolve prefers the highest
// version that all of them share.
func (a *Apt) Resolve(ctx context.Context, versions map[Component]string) (*Lock, error) {
	type want struct {
		c      Component
		prefix string
		pkgs   []string
	}
	cs := make([]Component, 0, len(versions))
	for c := range versions {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, compareComponents)
	var wants []want
	var all []string
	for _, c := range cs {
		pkgs, err := c.Packages(versions[c])
		if err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
		wants = append(wants, want{c, versions[c], pkgs})
		all = append(all, pkgs...)
	}
	if len(wants) == 0 {
		return &Lock{Components: map[Component]ComponentLock{}}, nil
	}
	slices.Sort(all)

	out, _, err := a.run(ctx, "apt-cache", append([]string{"madison"}, all...)...)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", aptError(err))
	}
	available := parseMadison(string(out))
	if len(available) == 0 {
		if err := a.checkLists(ctx); err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
	}

	lock := &Lock{Components: map[Component]ComponentLock{}}
	var errs []error
	for _, w := range wants {
		picked, err := pick(w.c, w.prefix, w.pkgs, available)
		if err != nil {
			errs = append(errs, fmt.Errorf("resolve %s: %w", w.c, err))
			continue
		}
		lock.Components[w.c] = ComponentLock{Prefix: w.prefix, Packages: picked}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := a.fillArchitectures(ctx, lock); err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	return lock, nil
}

// pick chooses one version per package of component c.
func pick(c Component, prefix string, pkgs []string, available map[string][]string) ([]PkgVersion, error) {
	matching := make(map[string][]string, len(pkgs))
	for _, p := range pkgs {
		vs := available[p]
		if len(vs) == 0 {
			hint := ""
			if c.prefixSelectsName() && prefix != bookworm[c] {
				hint = fmt.Sprintf(" (Debian 12 ships %s %s)", c, bookworm[c])
			}
			return nil, fmt.Errorf("versions.%s %q: %w: apt knows no package %s%s; change versions.%s in trio.yaml, or run `apt-get update` as root if the package should exist",
				c, prefix, ErrNoMatch, p, hint, c)
		}
		if c.prefixSelectsName() {
			matching[p] = vs
			continue
		}
		for _, v := range vs {
			if MatchesPrefix(v, prefix) {
				matching[p] = append(matching[p], v)
			}
		}
		if len(matching[p]) == 0 {
			return nil, fmt.Errorf("versions.%s %q: %w: apt has %s %s; change versions.%s in trio.yaml to match one of them (e.g. %q), or run `apt-get update` as root if a newer build should exist",
				c, prefix, ErrNoMatch, p, strings.Join(vs, ", "), c, suggestPrefix(vs[0]))
		}
	}

	// available lists are sorted newest first, so the first version of the
	// first package that every other package also has is the best shared
	// one.
	first := matching[pkgs[0]]
	for _, v := range first {
		shared := true
		for _, p := range pkgs[1:] {
			if !slices.Contains(matching[p], v) {
				shared = false
				break
			}
		}
		if shared {
			out := make([]PkgVersion, len(pkgs))
			for i, p := range pkgs {
				out[i] = PkgVersion{Name: p, Version: v}
			}
			return sortPkgs(out), nil
		}
	}
	// No shared version: take each package's newest and let apt judge.
	out := make([]PkgVersion, len(pkgs))
	for i, p := range pkgs {
		out[i] = PkgVersion{Name: p, Version: matching[p][0]}
	}
	return sortPkgs(out), nil
}

// suggestPrefix returns the major.minor of a Debian version, the prefix
// an error suggests: "1:10.11.19-0+deb12u1" gives "10.11".
func suggestPrefix(v string) string {
	pv, err := ParseVersion(v)
	if err != nil {
		return v
	}
	parts := strings.SplitN(pv.Upstream, ".", 3)
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return strings.Join(parts, ".")
}

// parseMadison reads `apt-cache madison` output, lines of
// "pkg | version | source", into package → versions, newest first and
// without duplicates. Source packages (lines from deb-src entries, whose
// source ends in "Sources") are skipped: only binary builds install.
func parseMadison(out string) map[string][]string {
	res := map[string][]string{}
	for line := range strings.Lines(out) {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			continue
		}
		pkg, ver, src := strings.TrimSpace(f[0]), strings.TrimSpace(f[1]), strings.TrimSpace(f[2])
		if strings.HasSuffix(src, "Sources") {
			continue
		}
		if _, err := ParseVersion(ver); err != nil || pkg == "" {
			continue
		}
		if !slices.Contains(res[pkg], ver) {
			res[pkg] = append(res[pkg], ver)
		}
	}
	for _, vs := range res {
		slices.SortFunc(vs, func(a, b string) int {
			c, _ := CompareVersions(b, a) // both parsed above
			return c
		})
	}
	return res
}

// checkLists returns ErrNoPackageLists, wrapped with the fix, when apt
// knows no package index besides dpkg's own status file.
func (a *Apt) checkLists(ctx context.Context) error {
	out, _, err := a.run(ctx, "apt-cache", "policy")
	if err != nil {
		return aptError(err)
	}
	if countPackageFiles(string(out)) == 0 {
		return fmt.Errorf("%w (apt-get update never ran on this machine); run `apt-get update` as root, then try again", ErrNoPackageLists)
	}
	return nil
}

// countPackageFiles counts the package indexes listed under "Package
// files:" in `apt-cache policy` output, not counting /var/lib/dpkg/status.
// Each index is a line "<priority> <uri> <suite>/<component> <arch> Packages".
func countPackageFiles(out string) int {
	n := 0
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 2 || !allDigits(strings.TrimPrefix(f[0], "-")) {
			continue
		}
		if f[len(f)-1] == "Packages" {
			n++
		}
	}
	return n
}

// fillArchitectures asks apt for the Architecture of every picked build.
// madison's "amd64 Packages" names the index, not the package: an
// Architecture: all package is listed in the amd64 index too.
func (a *Apt) fillArchitectures(ctx context.Context, l *Lock) error {
	var args []string
	for _, p := range l.Packages() {
		args = append(args, p.String())
	}
	out, _, err := a.run(ctx, "apt-cache", append([]string{"show"}, args...)...)
	if err != nil {
		return aptError(err)
	}
	arch := parseShowArchitectures(string(out))
	for c, cl := range l.Components {
		for i, p := range cl.Packages {
			got, ok := arch[p.String()]
			if !ok {
				return fmt.Errorf("apt-cache show %s printed no Architecture; run `apt-get update` as root and try again", p)
			}
			cl.Packages[i].Arch = got
		}
		l.Components[c] = cl
	}
	return nil
}

// parseShowArchitectures reads `apt-cache show` stanzas into
// "name=version" → architecture, keeping the first stanza of each build.
func parseShowArchitectures(out string) map[string]string {
	res := map[string]string{}
	var pkg, ver, arch string
	flush := func() {
		if pkg != "" && ver != "" && arch != "" {
			key := pkg + "=" + ver
			if _, ok := res[key]; !ok {
				res[key] = arch
			}
		}
		pkg, ver, arch = "", "", ""
	}
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			flush()
			continue
		}
		if k, v, ok := strings.Cut(line, ": "); ok {
			switch k {
			case "Package":
				pkg = v
			case "Version":
				ver = v
			case "Architecture":
				arch = v
			}
		}
	}
	flush()
	return res
}
