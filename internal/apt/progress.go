package apt

import (
	"fmt"
	"strconv"
	"strings"
)

// Phase is the stage of an install that a Progress reports on.
type Phase int

// The phases, in the order an install goes through them.
const (
	// PhaseUpdate: apt-get update is refreshing the package lists.
	PhaseUpdate Phase = 1
	// PhaseDownload: apt-get is fetching .deb files.
	PhaseDownload Phase = 2
	// PhaseInstall: dpkg is unpacking and configuring packages.
	PhaseInstall Phase = 3
)

// String implements fmt.Stringer.
func (p Phase) String() string {
	switch p {
	case PhaseUpdate:
		return "update"
	case PhaseDownload:
		return "download"
	case PhaseInstall:
		return "install"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Progress is one step of a long apt operation.
type Progress struct {
	// Phase is the stage.
	Phase Phase
	// Percent is apt's estimate of how far the phase is, 0 to 100. apt's
	// install percentage often ends below 100: it counts planned dpkg
	// steps, some of which dpkg never reports.
	Percent float64
	// Package is the package being worked on, empty for downloads and for
	// dpkg as a whole.
	Package string
	// Message is apt's human-readable description, e.g. "Unpacking nginx
	// (amd64)" or "Retrieving file 1 of 3".
	Message string
	// Error is set when the line reports a dpkg error for Package.
	Error bool
}

// String formats p as one log line, e.g.
// "install  40% haproxy: Installing haproxy (amd64)".
func (p Progress) String() string {
	s := fmt.Sprintf("%-8s %3.0f%%", p.Phase, p.Percent)
	if p.Package != "" {
		s += " " + p.Package + ":"
	}
	if p.Error {
		s += " error:"
	}
	return s + " " + p.Message
}

// parseStatusLine parses one line apt writes to APT::Status-Fd:
//
//	dlstatus:<item>:<percent>:<message>
//	pmstatus:<package>:<percent>:<message>
//	pmerror:<package>:<percent>:<message>
//
// The package of a pmerror line may carry an architecture
// ("nginx:amd64") and messages may contain colons, so the percent is
// taken as the first field after the package that parses as a number.
// downloadPhase is the phase to report dlstatus lines under: PhaseDownload
// during install, PhaseUpdate during apt-get update. Other lines
// (pmconffile, media-change) report ok=false.
func parseStatusLine(line string, downloadPhase Phase) (p Progress, ok bool) {
	kind, rest, found := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
	if !found {
		return p, false
	}
	f := strings.Split(rest, ":")
	// Find the percent: the first field from index 1 on that is a number.
	pct := -1
	for i := 1; i < len(f); i++ {
		if _, err := strconv.ParseFloat(f[i], 64); err == nil {
			pct = i
			break
		}
	}
	if pct < 0 {
		return p, false
	}
	p.Percent, _ = strconv.ParseFloat(f[pct], 64)
	p.Message = strings.Join(f[pct+1:], ":")
	pkg := strings.Join(f[:pct], ":")
	switch kind {
	case "dlstatus":
		p.Phase = downloadPhase
	case "pmstatus":
		p.Phase = PhaseInstall
		if pkg != "dpkg-exec" { // apt's marker for "dpkg as a whole"
			p.Package = pkg
		}
	case "pmerror":
		p.Phase = PhaseInstall
		p.Package, _, _ = strings.Cut(pkg, ":") // drop ":amd64", as pmstatus does
		p.Error = true
	default:
		return Progress{}, false
	}
	return p, true
}
