package apt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// dpkgQueryFormat is the -f format Observe asks dpkg-query for: name,
// version and the three-letter status such as "ii ".
const dpkgQueryFormat = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"

// InstalledPkg is what dpkg knows about one package on the host.
type InstalledPkg struct {
	Name    string
	Version string
	// Status is dpkg's abbreviated status: desired action, package state,
	// error flag, e.g. "ii " (installed) or "rc " (removed, config files
	// left). See dpkg-query(1).
	Status string
}

// Installed reports whether the package is unpacked and configured: state
// 'i', or the trigger states 'W' and 't' that dpkg counts as configured
// apart from pending triggers. A removed package whose config files remain
// ("rc") still has a version in dpkg's database but is not installed.
func (p InstalledPkg) Installed() bool {
	if len(p.Status) < 2 || p.Version == "" {
		return false
	}
	switch p.Status[1] {
	case 'i', 'W', 't':
		return len(p.Status) < 3 || p.Status[2] == ' '
	}
	return false
}

// Installed maps package name to what dpkg knows about it. A package dpkg
// has never heard of is simply absent.
type Installed map[string]InstalledPkg

// Observe asks dpkg which of pkgs are installed and at which version. A
// package that is not installed is reported as absent or not Installed(),
// never as an error.
func (a *Apt) Observe(ctx context.Context, pkgs []string) (Installed, error) {
	res := Installed{}
	if len(pkgs) == 0 {
		return res, nil
	}
	args := append([]string{"-W", "-f", dpkgQueryFormat}, pkgs...)
	out, _, err := a.run(ctx, "dpkg-query", args...)
	// dpkg-query exits 1 when some packages are unknown to dpkg, and still
	// prints the others; only other failures are errors.
	var ee *ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Code == 1) {
		return nil, fmt.Errorf("observe packages: %w", aptError(err))
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) != 3 || f[0] == "" {
			continue
		}
		res[f[0]] = InstalledPkg{Name: f[0], Version: f[1], Status: f[2]}
	}
	return res, nil
}

// State is how an installed package compares with its pin.
type State int

// The states Drift reports.
const (
	// StateOK: installed at the pinned version.
	StateOK State = 1
	// StateMissing: not installed (unknown to dpkg, removed, or left
	// half-installed).
	StateMissing State = 2
	// StateDrift: installed at another version than the pin.
	StateDrift State = 3
)

// String implements fmt.Stringer.
func (s State) String() string {
	switch s {
	case StateOK:
		return "ok"
	case StateMissing:
		return "missing"
	case StateDrift:
		return "drift"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// PkgState is the verdict on one pinned package.
type PkgState struct {
	// Pin is the build trio.lock asks for.
	Pin PkgVersion
	// State is the verdict.
	State State
	// Installed is the installed version for StateDrift, and the version of
	// a not fully installed package for StateMissing (empty if dpkg never
	// heard of it).
	Installed string
	// Status is dpkg's abbreviated status, empty if dpkg never heard of
	// the package.
	Status string
}

// String formats the verdict as one plan-friendly line, e.g.
// "nginx: drift: installed 1.22.1-9+deb12u9, pinned 1.22.1-9+deb12u11".
func (s PkgState) String() string {
	switch s.State {
	case StateOK:
		return fmt.Sprintf("%s: ok: %s", s.Pin.Name, s.Pin.Version)
	case StateDrift:
		return fmt.Sprintf("%s: drift: installed %s, pinned %s", s.Pin.Name, s.Installed, s.Pin.Version)
	}
	if s.Status != "" {
		return fmt.Sprintf("%s: missing: dpkg status %q, pinned %s", s.Pin.Name, strings.TrimSpace(s.Status), s.Pin.Version)
	}
	return fmt.Sprintf("%s: missing: pinned %s", s.Pin.Name, s.Pin.Version)
}

// Drift compares every package pinned in l with what is installed, in the
// order of Lock.Packages. Versions are compared the way dpkg does, so
// "0:1.0" equals "1.0".
func Drift(l *Lock, installed Installed) []PkgState {
	var out []PkgState
	for _, pin := range l.Packages() {
		st := PkgState{Pin: pin, State: StateMissing}
		if got, ok := installed[pin.Name]; ok {
			st.Installed, st.Status = got.Version, got.Status
			if got.Installed() {
				st.State = StateDrift
				if c, err := CompareVersions(got.Version, pin.Version); err == nil && c == 0 {
					st.State = StateOK
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// NeedInstall returns the pins of the packages that are missing or
// drifted: what Install must be given to make the host match the lock.
func NeedInstall(states []PkgState) []PkgVersion {
	var out []PkgVersion
	for _, s := range states {
		if s.State != StateOK {
			out = append(out, s.Pin)
		}
	}
	return slices.Clip(out)
}
