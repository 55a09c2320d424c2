package apt

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Program is the executable a component provides, and how to ask it for
// its version. The host target uses it to check that the binary it will
// run is the build trio.lock pins.
type Program struct {
	// Component is the component the program belongs to.
	Component Component
	// Name is the executable, e.g. "nginx" or "php-fpm8.2".
	Name string
	// Args make it print its version, e.g. ["-v"].
	Args []string
	// Package is the package that ships it; its pinned version is what
	// the program must report.
	Package string
	// pattern captures the version from the combined output.
	pattern *regexp.Regexp
}

var (
	// nginx -v writes "nginx version: nginx/1.22.1" to stderr.
	nginxVersion = regexp.MustCompile(`nginx version: nginx/([0-9][^\s]*)`)
	// php-fpm8.2 -v: "PHP 8.2.36 (fpm-fcgi) (built: ...)".
	phpVersion = regexp.MustCompile(`(?m)^PHP ([0-9][^\s]*)`)
	// mariadbd --version: "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu ...".
	mariadbVersion = regexp.MustCompile(`Ver ([0-9][0-9.]*)-MariaDB`)
	// haproxy -v: "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/".
	haproxyVersion = regexp.MustCompile(`HAProxy version ([0-9][^\s]*)`)
)

// Program returns the program c provides at the given version prefix.
func (c Component) Program(prefix string) (Program, error) {
	if err := c.ValidatePrefix(prefix); err != nil {
		return Program{}, err
	}
	switch c {
	case Nginx:
		return Program{Component: c, Name: "nginx", Args: []string{"-v"}, Package: "nginx", pattern: nginxVersion}, nil
	case PHP:
		return Program{Component: c, Name: "php-fpm" + prefix, Args: []string{"-v"}, Package: "php" + prefix + "-fpm", pattern: phpVersion}, nil
	case MariaDB:
		return Program{Component: c, Name: "mariadbd", Args: []string{"--version"}, Package: "mariadb-server", pattern: mariadbVersion}, nil
	case HAProxy:
		return Program{Component: c, Name: "haproxy", Args: []string{"-v"}, Package: "haproxy", pattern: haproxyVersion}, nil
	}
	panic("unreachable: ValidatePrefix accepted " + string(c))
}

// ParseVersionOutput extracts the upstream version from what the program
// printed for its version flag (stdout and stderr together), e.g. "1.22.1"
// from "nginx version: nginx/1.22.1". A Debian revision some programs
// print (haproxy: "2.6.12-1+deb12u4") is dropped.
func (p Program) ParseVersionOutput(out string) (string, error) {
	m := p.pattern.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s %s printed no version: %q", p.Name, strings.Join(p.Args, " "), firstLine(out))
	}
	v, _, _ := strings.Cut(m[1], "-")
	return v, nil
}

// ProgramVersion runs the program of component c (found on PATH, then in
// the sbin directories) and returns the upstream version it reports.
func (a *Apt) ProgramVersion(ctx context.Context, c Component, prefix string) (string, error) {
	_, v, err := a.programVersion(ctx, c, prefix)
	return v, err
}

func (a *Apt) programVersion(ctx context.Context, c Component, prefix string) (path, version string, err error) {
	p, err := c.Program(prefix)
	if err != nil {
		return "", "", fmt.Errorf("%s version: %w", c, err)
	}
	path, err = a.lookPath(p.Name)
	if err != nil {
		return "", "", fmt.Errorf("%s version: %s not found on PATH or in /usr/sbin; run `trio up` to install %s: %w", c, p.Name, p.Package, err)
	}
	stdout, stderr, err := a.run(ctx, path, p.Args...)
	if err != nil {
		return path, "", fmt.Errorf("%s version: %w", c, err)
	}
	v, err := p.ParseVersionOutput(string(stdout) + string(stderr))
	if err != nil {
		return path, "", fmt.Errorf("%s version: %w", c, err)
	}
	return path, v, nil
}

// VerifyProgram checks that the program of component c that the host
// would run reports the upstream version of the build trio.lock pins. The
// error wraps ErrProgramMismatch and names the path found, so a stray
// /usr/local/sbin/nginx is easy to spot.
func (a *Apt) VerifyProgram(ctx context.Context, l *Lock, c Component) error {
	cl, ok := l.Components[c]
	if !ok {
		return fmt.Errorf("verify %s: trio.lock pins no %s; run `trio lock`", c, c)
	}
	p, err := c.Program(cl.Prefix)
	if err != nil {
		return fmt.Errorf("verify %s: %w", c, err)
	}
	pin, ok := l.Package(p.Package)
	if !ok {
		return fmt.Errorf("verify %s: trio.lock pins no %s; run `trio lock`", c, p.Package)
	}
	path, got, err := a.programVersion(ctx, c, cl.Prefix)
	if err != nil {
		return fmt.Errorf("verify %w", err)
	}
	if !ProgramMatches(pin.Version, got) {
		return fmt.Errorf("verify %s: %w: %s reports %s, trio.lock pins %s %s; remove the other %s from PATH, or run `trio up` to install the pinned build",
			c, ErrProgramMismatch, path, got, pin.Name, pin.Version, p.Name)
	}
	return nil
}

// ProgramMatches reports whether a program reporting version got comes
// from the Debian build pkgVersion: got must equal the upstream part,
// allowing Debian repack suffixes such as "+dfsg" or "~ds1".
func ProgramMatches(pkgVersion, got string) bool {
	v, err := ParseVersion(pkgVersion)
	if err != nil || got == "" {
		return false
	}
	rest, ok := strings.CutPrefix(v.Upstream, got)
	return ok && (rest == "" || rest[0] == '+' || rest[0] == '~')
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	line, _, _ := strings.Cut(s, "\n")
	return line
}
