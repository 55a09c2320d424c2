package apt

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed Debian package version, [epoch:]upstream[-revision],
// as described in Debian Policy §5.6.12.
type Version struct {
	// Epoch is the number before the first colon, 0 when absent.
	Epoch int
	// Upstream is the part between the epoch and the last hyphen.
	Upstream string
	// Revision is the part after the last hyphen, empty when absent.
	Revision string
}

// ParseVersion parses a Debian version string. Like dpkg it rejects empty
// versions, embedded spaces, bad epochs and empty upstream or revision
// parts, and accepts unusual characters that dpkg only warns about.
func ParseVersion(s string) (Version, error) {
	var v Version
	if s == "" {
		return v, fmt.Errorf("parse version %q: empty version", s)
	}
	if strings.ContainsAny(s, " \t\n") {
		return v, fmt.Errorf("parse version %q: contains spaces", s)
	}
	rest := s
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		epoch, err := strconv.Atoi(rest[:i])
		if err != nil || !allDigits(rest[:i]) {
			return v, fmt.Errorf("parse version %q: epoch is not a non-negative number", s)
		}
		v.Epoch = epoch
		rest = rest[i+1:]
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		v.Revision = rest[i+1:]
		if v.Revision == "" {
			return v, fmt.Errorf("parse version %q: empty revision after '-'", s)
		}
		rest = rest[:i]
	}
	if rest == "" {
		return v, fmt.Errorf("parse version %q: empty upstream version", s)
	}
	v.Upstream = rest
	return v, nil
}

// String formats v the way dpkg prints it: the epoch only when non-zero,
// the revision only when present.
func (v Version) String() string {
	s := v.Upstream
	if v.Epoch != 0 {
		s = strconv.Itoa(v.Epoch) + ":" + s
	}
	if v.Revision != "" {
		s += "-" + v.Revision
	}
	return s
}

// Compare orders v and w the way dpkg --compare-versions does: by epoch,
// then upstream, then revision. It returns -1, 0 or +1.
func (v Version) Compare(w Version) int {
	switch {
	case v.Epoch < w.Epoch:
		return -1
	case v.Epoch > w.Epoch:
		return 1
	}
	if c := compareFragment(v.Upstream, w.Upstream); c != 0 {
		return c
	}
	return compareFragment(v.Revision, w.Revision)
}

// CompareVersions parses and compares two version strings; see
// Version.Compare.
func CompareVersions(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// compareFragment is dpkg's verrevcmp: the strings are compared as
// alternating runs of non-digits (compared character by character with
// charOrder) and digits (compared numerically).
func compareFragment(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		// Non-digit run. A string that has ended, or reached a digit,
		// contributes order 0 here, which sorts after '~' and before
		// everything else.
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := charOrderAt(a, i), charOrderAt(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		// Digit run: skip leading zeros, then the longer number wins, and
		// among equal lengths the first differing digit decides.
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

// charOrderAt is the weight of s[i] in a non-digit run: '~' sorts before
// the end of the string, the end and digits are 0, letters sort by ASCII,
// and every other character sorts after all letters.
func charOrderAt(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isLetter(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
