package apt

import (
	"slices"
	"testing"
)

func TestCompareVersions_DebianPolicyCases(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.1", -1},
		{"1.10", "1.9", 1},  // numeric, not lexical
		{"1.002", "1.2", 0}, // leading zeros do not count
		{"0:1.0", "1.0", 0}, // epoch 0 is the same as no epoch
		{"1:1.0", "2.0", 1}, // epoch beats upstream
		{"1:10.11.19-0+deb12u1", "10.11.19-0+deb12u1", 1},
		{"1.0~rc1", "1.0", -1}, // tilde sorts before the end
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0~~", "1.0~~a", -1},
		{"1.0~~a", "1.0~", -1},
		{"1.0~", "1.0", -1},
		{"1.0", "1.0a", -1},  // end sorts before letters
		{"1.0a", "1.0+", -1}, // letters sort before other characters
		{"1.0+", "1.0.", -1}, // '+' (43) before '.' (46)
		{"1.0", "1.0.0", -1},
		{"1.0", "1.0-0", 0}, // absent revision equals "0"
		{"1.0-1", "1.0-1.1", -1},
		{"1.0-1", "1.0-2", -1},
		{"1.0-2-3", "1.0-2-4", -1}, // upstream may hold hyphens
		{"2:1-1", "1:9-9", 1},
		{"8.2.36-1~deb12u1", "8.2.36-1", -1}, // backport/stable-update style
		{"8.2.36-1~deb12u1", "8.2.32-1~deb12u1", 1},
		{"1.22.1-9+deb12u11", "1.22.1-9+deb12u9", 1},
		{"1.22.1-9+deb12u9", "1.22.1-9", 1},
		{"2.6.12-1+deb12u4", "2.6.12-1+deb12u3", 1},
		{"1.2.3A", "1.2.3a", -1}, // uppercase before lowercase (ASCII)
		{"a", "~", 1},
		{"1:2:3-1", "1:2:3-0", 1}, // colons allowed in upstream after an epoch
	}
	for _, tt := range tests {
		got, err := CompareVersions(tt.a, tt.b)
		if err != nil {
			t.Fatalf("CompareVersions(%q, %q): %v", tt.a, tt.b, err)
		}
		if got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		back, _ := CompareVersions(tt.b, tt.a)
		if back != -tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, back, -tt.want)
		}
	}
}

func TestCompareVersions_SortsTildeChain(t *testing.T) {
	// The ordering example from Debian Policy §5.6.12: ~~, ~~a, ~, the
	// empty part, a.
	want := []string{"1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"}
	got := []string{"1.0a", "1.0~", "1.0", "1.0~~a", "1.0~~"}
	slices.SortFunc(got, func(a, b string) int {
		c, err := CompareVersions(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
	if !slices.Equal(got, want) {
		t.Fatalf("sorted = %q, want %q", got, want)
	}
}

func TestParseVersion_Parts(t *testing.T) {
	tests := []struct {
		in   string
		want Version
	}{
		{"1.22.1-9+deb12u11", Version{0, "1.22.1", "9+deb12u11"}},
		{"1:10.11.19-0+deb12u1", Version{1, "10.11.19", "0+deb12u1"}},
		{"8.2.36-1~deb12u1", Version{0, "8.2.36", "1~deb12u1"}},
		{"2.0", Version{0, "2.0", ""}},
		{"1.0-2-3", Version{0, "1.0-2", "3"}},
		{"1:2:3", Version{1, "2:3", ""}},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("ParseVersion(%q).String() = %q", tt.in, got.String())
		}
	}
}

func TestParseVersion_RejectsWhatDpkgRejects(t *testing.T) {
	for _, in := range []string{"", "1.0 1", "a:1.0", "-1:1.0", ":1.0", "1:", "1.0-", "-1", "1:-1"} {
		if _, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) succeeded, want an error", in)
		}
	}
}
