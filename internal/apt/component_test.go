package apt

import (
	"slices"
	"strings"
	"testing"
)

func TestComponent_Packages(t *testing.T) {
	tests := []struct {
		c      Component
		prefix string
		want   []string
	}{
		{Nginx, "1.22", []string{"nginx"}},
		{PHP, "8.2", []string{"php8.2-fpm", "php8.2-mysql"}},
		{PHP, "8.3", []string{"php8.3-fpm", "php8.3-mysql"}},
		{MariaDB, "10.11", []string{"mariadb-server", "mariadb-client", "mariadb-backup"}},
		{HAProxy, "2.6", []string{"haproxy"}},
	}
	for _, tt := range tests {
		got, err := tt.c.Packages(tt.prefix)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.c, tt.prefix, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s %s: Packages = %q, want %q", tt.c, tt.prefix, got, tt.want)
		}
	}
}

func TestComponent_PackagesRejectsBadPrefix(t *testing.T) {
	tests := []struct {
		c       Component
		prefix  string
		wantMsg string
	}{
		{PHP, "8", `versions.php "8": want major.minor, like "8.2"`},
		{PHP, "8.2.1", "want major.minor"},
		{Nginx, "", "want numbers separated by dots"},
		{Nginx, "1.22.", "want numbers separated by dots"},
		{MariaDB, "1:10.11", "want numbers separated by dots"},
		{HAProxy, "2.6*", "want numbers separated by dots"},
		{Component("apache"), "2.4", `unknown component "apache"`},
	}
	for _, tt := range tests {
		_, err := tt.c.Packages(tt.prefix)
		if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s %q: err = %v, want it to contain %q", tt.c, tt.prefix, err, tt.wantMsg)
		}
	}
}

func TestMatchesPrefix_ComponentBoundary(t *testing.T) {
	tests := []struct {
		version, prefix string
		want            bool
	}{
		{"1:10.11.19-0+deb12u1", "10.11", true}, // epoch ignored
		{"1:10.11.19-0+deb12u1", "10.1", false}, // 10.1 is not 10.11
		{"1:10.11.19-0+deb12u1", "1", false},    // the epoch is not the version
		{"1:10.11.19-0+deb12u1", "10.11.19", true},
		{"1.22.1-9+deb12u11", "1.22", true},
		{"1.22.1-9+deb12u11", "1.2", false},
		{"1.22.1-9+deb12u11", "1", true},
		{"1.22", "1.22", true},
		{"1.22-1", "1.22", true},
		{"1.22~rc1-1", "1.22", true},
		{"2.6.12-1+deb12u4", "2.6", true},
		{"2.60.1", "2.6", false},
		{"1.1.1w-0+deb12u1", "1.1.1", true}, // a letter after digits is a new component
		{"1.1.1w-0+deb12u1", "1.1.1w", true},
		{"8.2.36-1~deb12u1", "8.3", false},
		{"1.22.1", "", false},
	}
	for _, tt := range tests {
		if got := MatchesPrefix(tt.version, tt.prefix); got != tt.want {
			t.Errorf("MatchesPrefix(%q, %q) = %v, want %v", tt.version, tt.prefix, got, tt.want)
		}
	}
}

func TestParseComponent_Unknown(t *testing.T) {
	if c, err := ParseComponent("mariadb"); err != nil || c != MariaDB {
		t.Fatalf("ParseComponent(mariadb) = %q, %v", c, err)
	}
	_, err := ParseComponent("mysql")
	if err == nil || !strings.Contains(err.Error(), "nginx, php, mariadb, haproxy") {
		t.Fatalf("ParseComponent(mysql) = %v, want the list of components", err)
	}
}
