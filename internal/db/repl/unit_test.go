package repl

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestSettings_Golden compares the settings of each role with
// testdata/settings-*.cnf; go test -update rewrites them.
func TestSettings_Golden(t *testing.T) {
	for _, c := range []struct {
		name string
		role Role
		opts SettingsOptions
	}{
		{"primary", Primary, SettingsOptions{}},
		{"replica", Replica, SettingsOptions{}},
		{"replica-after-commit", Replica, SettingsOptions{WaitPoint: AfterCommit, SemiSyncTimeout: 2500 * time.Millisecond, BinlogBasename: "bin", RelayLogBasename: "relay"}},
		{"standalone", Primary, SettingsOptions{Standalone: true}},
	} {
		s := Settings(c.role, 7, c.opts)
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(s)) {
			fmt.Fprintf(&b, "%s = %s\n", k, s[k])
		}
		path := filepath.Join("testdata", "settings-"+c.name+".cnf")
		if *update {
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s: settings differ from %s:\n%s", c.name, path, b.String())
		}
	}
}

func TestSettings_EveryNodeStartsFenced(t *testing.T) {
	for _, r := range []Role{Primary, Replica} {
		s := Settings(r, 1, SettingsOptions{})
		if s["read_only"] != "ON" || s["skip_slave_start"] != "ON" || s["rpl_semi_sync_master_enabled"] != "OFF" {
			t.Errorf("%s: read_only %s, skip_slave_start %s, semi-sync master %s", r, s["read_only"], s["skip_slave_start"], s["rpl_semi_sync_master_enabled"])
		}
	}
}

func TestParseBinlogInfo_MariaDB1011(t *testing.T) {
	pos, err := readBinlogInfo("testdata")
	if err != nil || pos.String() != "0-1-17" {
		t.Fatalf("readBinlogInfo = %s, %v; want 0-1-17", pos, err)
	}
	for in, want := range map[string]string{
		"mariadb-bin.000001\t329\n":              "",
		"mariadb-bin.000001\t329\t0-1-5,1-2-9\n": "0-1-5,1-2-9",
	} {
		if p, err := parseBinlogInfo(in); err != nil || p.String() != want {
			t.Errorf("parseBinlogInfo(%q) = %s, %v; want %q", in, p, err, want)
		}
	}
	if _, err := parseBinlogInfo("garbage"); err == nil {
		t.Error("parseBinlogInfo took garbage")
	}
}

func TestProgressLog_ReportsCopies(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "mariadb-backup.log"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	p := newProgressLog(func(s string) { got = append(got, s) })
	// Written in odd pieces, as a pipe delivers it.
	for len(b) > 0 {
		n := min(len(b), 37)
		p.Write(b[:n])
		b = b[n:]
	}
	if p.copied != 6 || len(got) != 1 || !strings.HasPrefix(got[0], "copying /tmp/reptry/p//aria_log_control") {
		t.Fatalf("copied %d, progress %q", p.copied, got)
	}
	if !strings.Contains(p.tail(), "completed OK!") {
		t.Fatalf("tail lacks the last line:\n%s", p.tail())
	}
}

func TestDumpSniffer_FindsVersionAndGTID(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "dump.sql"))
	if err != nil {
		t.Fatal(err)
	}
	s := &dumpSniffer{}
	// A long data line must not be kept.
	s.Write([]byte("INSERT INTO t VALUES (" + strings.Repeat("1,", 100000) + "1);\n"))
	for len(b) > 0 {
		n := min(len(b), 11)
		s.Write(b[:n])
		b = b[n:]
	}
	if s.gtid != "0-1-17" || s.version != "10.11.19-MariaDB-0+deb12u1-log" || cap(s.line) > 8192 {
		t.Fatalf("gtid %q, version %q, line buffer %d", s.gtid, s.version, cap(s.line))
	}
}

func TestRedactPassword(t *testing.T) {
	got := redactPassword(`CHANGE MASTER TO MASTER_USER = 'r', MASTER_PASSWORD = 'it\'s secret', MASTER_USE_GTID = slave_pos`)
	if strings.Contains(got, "secret") || !strings.Contains(got, "MASTER_USE_GTID") {
		t.Fatal(got)
	}
}
