package apt

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatusLine_Formats(t *testing.T) {
	tests := []struct {
		line string
		want Progress
	}{
		{"dlstatus:1:0.3208:Retrieving file 1 of 1", Progress{Phase: PhaseDownload, Percent: 0.3208, Message: "Retrieving file 1 of 1"}},
		{"pmstatus:dpkg-exec:0.0000:Running dpkg", Progress{Phase: PhaseInstall, Percent: 0, Message: "Running dpkg"}},
		{"pmstatus:haproxy:20.0000:Unpacking haproxy (amd64)", Progress{Phase: PhaseInstall, Percent: 20, Package: "haproxy", Message: "Unpacking haproxy (amd64)"}},
		// Older apt printed percentages without fixed precision.
		{"pmstatus:nginx:16.6667:Configuring nginx", Progress{Phase: PhaseInstall, Percent: 16.6667, Package: "nginx", Message: "Configuring nginx"}},
		// pmerror keeps the architecture in the package and messages may hold colons.
		{"pmerror:nginx:amd64:60.0000:installed nginx package post-installation script subprocess returned error exit status 1",
			Progress{Phase: PhaseInstall, Percent: 60, Package: "nginx", Error: true, Message: "installed nginx package post-installation script subprocess returned error exit status 1"}},
		{"pmstatus:php8.2-fpm:40:Configuring php8.2-fpm: step 2", Progress{Phase: PhaseInstall, Percent: 40, Package: "php8.2-fpm", Message: "Configuring php8.2-fpm: step 2"}},
	}
	for _, tt := range tests {
		got, ok := parseStatusLine(tt.line, PhaseDownload)
		if !ok || got != tt.want {
			t.Errorf("parseStatusLine(%q) = %+v, %v; want %+v", tt.line, got, ok, tt.want)
		}
	}
	for _, line := range []string{"", "pmconffile:/etc/nginx/nginx.conf:50:'/etc/nginx/nginx.conf.dpkg-new' 1", "media-change: insert disk", "pmstatus:nginx", "hello"} {
		if p, ok := parseStatusLine(line, PhaseDownload); ok {
			t.Errorf("parseStatusLine(%q) = %+v, want not ok", line, p)
		}
	}
}

func TestParseStatusLine_RecordedFilesAllParse(t *testing.T) {
	for _, name := range []string{"download.status", "install.status", "update.status"} {
		data, err := os.ReadFile("testdata/status/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(data)) {
			p, ok := parseStatusLine(line, PhaseUpdate)
			if !ok {
				t.Errorf("%s: %q did not parse", name, line)
				continue
			}
			if p.Percent < 0 || p.Percent > 100 || p.Message == "" {
				t.Errorf("%s: %q parsed to %+v", name, line, p)
			}
		}
	}
}

func TestProgress_String(t *testing.T) {
	p := Progress{Phase: PhaseInstall, Percent: 40, Package: "haproxy", Message: "Installing haproxy (amd64)"}
	if got, want := p.String(), "install   40% haproxy: Installing haproxy (amd64)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := Phase(9).String(); got != "Phase(9)" {
		t.Errorf("Phase(9).String() = %q", got)
	}
}
