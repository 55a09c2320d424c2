package apt

import (
	"fmt"
	"slices"
	"strings"
)

// Component is a part of the stack that trio installs from Debian
// packages. Its value is the key used under versions: in trio.yaml.
type Component string

// The components trio knows how to install.
const (
	Nginx   Component = "nginx"
	PHP     Component = "php"
	MariaDB Component = "mariadb"
	HAProxy Component = "haproxy"
)

// Components lists every component in a stable order.
func Components() []Component {
	return []Component{Nginx, PHP, MariaDB, HAProxy}
}

// String implements fmt.Stringer.
func (c Component) String() string { return string(c) }

// ParseComponent returns the component named s, or an error listing the
// known ones.
func ParseComponent(s string) (Component, error) {
	c := Component(s)
	if slices.Contains(Components(), c) {
		return c, nil
	}
	return "", fmt.Errorf("unknown component %q: versions in trio.yaml may name %s", s, joinComponents(Components()))
}

// bookworm is what Debian 12 ships for each component; error messages
// suggest it when a prefix matches nothing.
var bookworm = map[Component]string{
	Nginx:   "1.22",
	PHP:     "8.2",
	MariaDB: "10.11",
	HAProxy: "2.6",
}

// ValidatePrefix checks that prefix is a usable version prefix for c:
// dot-separated numbers such as "1.22", and for php exactly major.minor,
// because the php version is part of the package names.
func (c Component) ValidatePrefix(prefix string) error {
	if _, err := ParseComponent(string(c)); err != nil {
		return err
	}
	parts := strings.Split(prefix, ".")
	for _, p := range parts {
		if !allDigits(p) {
			return fmt.Errorf("versions.%s %q: want numbers separated by dots, like %q", c, prefix, bookworm[c])
		}
	}
	if c == PHP && len(parts) != 2 {
		return fmt.Errorf("versions.php %q: want major.minor, like %q (it selects the php%s-* packages)", prefix, bookworm[PHP], bookworm[PHP])
	}
	return nil
}

// Packages returns the Debian 12 packages that install c at the given
// version prefix, in a stable order.
func (c Component) Packages(prefix string) ([]string, error) {
	if err := c.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	switch c {
	case Nginx:
		return []string{"nginx"}, nil
	case PHP:
		return []string{"php" + prefix + "-fpm", "php" + prefix + "-mysql"}, nil
	case MariaDB:
		return []string{"mariadb-server", "mariadb-client", "mariadb-backup"}, nil
	case HAProxy:
		return []string{"haproxy"}, nil
	}
	panic("unreachable: ValidatePrefix accepted " + string(c))
}

// prefixSelectsName reports whether the version prefix of c is part of the
// package names rather than a filter on package versions. For php, the
// package php8.2-fpm is whatever 8.2 build Debian has; its version is not
// filtered again.
func (c Component) prefixSelectsName() bool { return c == PHP }

// MatchesPrefix reports whether the Debian version v belongs to the version
// prefix: the epoch is ignored and the prefix must end on a component
// boundary, so "10.11" matches "1:10.11.19-0+deb12u1" but "10.1" does not.
func MatchesPrefix(v, prefix string) bool {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if prefix == "" || !strings.HasPrefix(v, prefix) {
		return false
	}
	if len(v) == len(prefix) {
		return true
	}
	// Debian versions alternate digit and non-digit runs; a prefix ending
	// in a digit must not be followed by another digit, one ending in a
	// letter not by another letter.
	last, next := prefix[len(prefix)-1], v[len(prefix)]
	switch {
	case isDigit(last):
		return !isDigit(next)
	case isLetter(last):
		return !isLetter(next)
	}
	return true
}

func joinComponents(cs []Component) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
