package apt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// installFlags are the apt-get install flags a user is shown: unattended,
// and only what the packages strictly need.
var installFlags = []string{"install", "-y", "--no-install-recommends"}

// confFlags keep an existing config file when a package ships a new one,
// without asking.
var confFlags = []string{"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}

// installEnv makes apt-get and the maintainer scripts it runs never
// prompt: debconf takes the defaults and apt-listchanges stays quiet.
var installEnv = []string{"DEBIAN_FRONTEND=noninteractive", "APT_LISTCHANGES_FRONTEND=none"}

// outputTail is how many lines of apt's output a failure shows.
const outputTail = 20

// InstallCommand returns the command line a root user runs to install
// pkgs, e.g. "apt-get install -y --no-install-recommends
// nginx=1.22.1-9+deb12u11 php8.2-fpm=8.2.36-1~deb12u1". trio plan prints it
// to show what trio up would install. It is quoted for a POSIX shell.
func InstallCommand(pkgs []PkgVersion) string {
	args := append([]string{"apt-get"}, installFlags...)
	for _, p := range pkgs {
		args = append(args, p.String())
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// Install installs exactly the given builds with apt-get, reporting
// progress as it goes. progress may be nil; it is called from one
// goroutine at a time, not necessarily the caller's. Nothing to install is
// a no-op.
//
// It refuses to start without root: the error wraps ErrNotRoot, names the
// packages and gives the command to run. When apt's lists are empty, or
// apt cannot find a pinned version or fetch its file, it runs apt-get
// update once (reported as PhaseUpdate) and tries again.
//
// Debian's maintainer scripts may start the packaged services (nginx on
// :80, mariadb); a policy-rc.d that denies that is fine, since invoke-rc.d
// then exits 0.
func (a *Apt) Install(ctx context.Context, pkgs []PkgVersion, progress func(Progress)) error {
	if len(pkgs) == 0 {
		return nil
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	names := pkgNames(pkgs)
	if a.euid() != 0 {
		return fmt.Errorf("install %s: %w; run as root:\n  sudo %s", names, ErrNotRoot, InstallCommand(pkgs))
	}

	updated := false
	if err := a.checkLists(ctx); errors.Is(err, ErrNoPackageLists) {
		if err := a.update(ctx, progress); err != nil {
			return fmt.Errorf("install %s: %w", names, err)
		}
		updated = true
	}

	args := append([]string{"-o", "APT::Status-Fd=" + strconv.Itoa(statusFD)}, confFlags...)
	args = append(args, installFlags...)
	for _, p := range pkgs {
		args = append(args, p.String())
	}
	status := func(line string) {
		if p, ok := parseStatusLine(line, PhaseDownload); ok {
			progress(p)
		}
	}
	for {
		out, err := a.stream(ctx, installEnv, status, "apt-get", args...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("install %s: %w", names, err)
		}
		var ee *ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("install %s: %w", names, aptError(err))
		}
		if !updated && staleLists(string(out)) {
			if err := a.update(ctx, progress); err != nil {
				return fmt.Errorf("install %s: %w", names, err)
			}
			updated = true
			continue
		}
		return &CommandError{Op: "install " + names, Err: err, Output: tailLines(string(out), outputTail), Hint: installHint(string(out), updated)}
	}
}

// update runs apt-get update, reporting its downloads as PhaseUpdate.
func (a *Apt) update(ctx context.Context, progress func(Progress)) error {
	progress(Progress{Phase: PhaseUpdate, Message: "apt-get update"})
	status := func(line string) {
		if p, ok := parseStatusLine(line, PhaseUpdate); ok {
			progress(p)
		}
	}
	out, err := a.stream(ctx, installEnv, status, "apt-get", "-o", "APT::Status-Fd="+strconv.Itoa(statusFD), "update")
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	var ee *ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("apt-get update: %w", aptError(err))
	}
	return &CommandError{Op: "apt-get update", Err: err, Output: tailLines(string(out), outputTail),
		Hint: "check the network and the mirrors in /etc/apt/sources.list and /etc/apt/sources.list.d, then try again"}
}

// CommandError is a failed apt-get run: what trio was doing, the tail of
// apt's output, and what to do about it.
type CommandError struct {
	// Op is what trio was doing, e.g. "install nginx, haproxy".
	Op string
	// Err is the underlying *ExitError.
	Err error
	// Output holds the last lines apt printed.
	Output []string
	// Hint says what to do next.
	Hint string
}

// Error implements error: one line of what failed, apt's last lines
// indented, and the hint.
func (e *CommandError) Error() string {
	var b strings.Builder
	var ee *ExitError
	if errors.As(e.Err, &ee) {
		// The full command line is long and mostly flags; the name says
		// enough here.
		name, _, _ := strings.Cut(ee.Command, " ")
		fmt.Fprintf(&b, "%s: %s exited with status %d", e.Op, name, ee.Code)
	} else {
		fmt.Fprintf(&b, "%s: %v", e.Op, e.Err)
	}
	if len(e.Output) > 0 {
		b.WriteString("\napt said:")
		for _, l := range e.Output {
			b.WriteString("\n  " + l)
		}
	}
	if e.Hint != "" {
		b.WriteString("\n" + e.Hint)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *CommandError) Unwrap() error { return e.Err }

// staleLists reports whether apt failed because its package lists are
// older than the pinned builds: it cannot find a version, or the mirror
// no longer has the file the lists point to.
func staleLists(out string) bool {
	for _, s := range []string{
		"E: Version '",                // E: Version '1.22.1-9+deb12u12' for 'nginx' was not found
		"E: Unable to locate package", // lists empty or package unknown
		"has no installation candidate",
		"404  Not Found", // apt prints two spaces
		"404 Not Found",
	} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// installHint picks the advice for a failed apt-get install from its
// output.
func installHint(out string, updated bool) string {
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(out, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("Could not get lock", "is held by process", "Unable to acquire the dpkg frontend lock"):
		return "another apt or dpkg is running (unattended-upgrades?); wait for it to finish, then try again"
	case has("dpkg was interrupted"):
		return "an earlier install was interrupted; run `dpkg --configure -a` as root, then try again"
	case has("Packages were downgraded and -y was used without --allow-downgrades"):
		return "the host has a newer build than trio.lock pins (a security update?); run `trio lock` to pin the installed build, then try again"
	case staleLists(out) && updated:
		return "the pinned build is no longer in the Debian archive (superseded builds are removed); run `trio lock` to pin the current one, then try again"
	case has("held broken packages", "Unmet dependencies", "unmet dependencies"):
		// Typical cause: the pin is older than the candidate of a sibling
		// package it depends on exactly (nginx-common, php8.2-common,
		// mariadb-client-core), which apt will not downgrade on its own.
		return "apt cannot install the pinned builds next to the newer builds of their sibling packages; run `trio lock` to pin the current builds, then try again"
	case has("Temporary failure resolving", "Could not resolve", "Failed to fetch", "Connection failed", "Connection timed out"):
		return "apt could not download the packages; check the network and the mirrors in /etc/apt/sources.list, then try again"
	case has("post-installation script subprocess returned error", "pre-installation script subprocess returned error", "Sub-process /usr/bin/dpkg returned an error code"):
		return "a package's setup script failed, often because its service could not start (is port 80 or 3306 already taken?); fix the cause, run `dpkg --configure -a` as root, then try again"
	case has("No space left on device"):
		return "the disk is full; free space under /var/cache/apt and /usr, then try again"
	}
	return "see apt's output above and /var/log/apt/term.log, fix the cause, then try again"
}

func pkgNames(pkgs []PkgVersion) string {
	names := make([]string, len(pkgs))
	for i, p := range pkgs {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// shellQuote quotes s for a POSIX shell unless it only has characters that
// need no quoting. A tilde right after '=' or ':' would be expanded by
// bash, so it forces quotes too.
func shellQuote(s string) string {
	safe := s != ""
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = isDigit(c) || isLetter(c) || strings.IndexByte("._+:=~/-", c) >= 0
	}
	if safe && !strings.Contains(s, "=~") && !strings.Contains(s, ":~") && !strings.HasPrefix(s, "~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
