package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/haproxy"
)

// Observations made by hand: db-0 (server 1) was the primary, db-1 and
// db-2 (servers 2 and 3) its replicas.

var testNodes = []repl.Node{
	{Name: "db-0", Socket: "/run/db-0.sock", Host: "127.0.0.1", Port: 3310},
	{Name: "db-1", Socket: "/run/db-1.sock", Host: "127.0.0.1", Port: 3311},
	{Name: "db-2", Socket: "/run/db-2.sock", Host: "127.0.0.1", Port: 3312},
}

func testConfig() Config {
	return Config{
		Nodes: testNodes, Primary: "db-0", PromotedAt: repl.MustPosition("0-1-1"),
		WriteBackend: "db-write", ReadBackend: "db-read",
	}.withDefaults()
}

// primaryObs is a writable node that replicates from nobody.
func primaryObs(i int, binlog string) observation {
	p := repl.MustPosition(binlog)
	return observation{node: testNodes[i], st: repl.NodeStatus{ServerID: uint32(i + 1), BinlogPos: p, CurrentPos: p}}
}

// replicaObs is a read-only replica of testNodes[of] that has applied
// slave and received io.
func replicaObs(i, of int, ioThread string, sqlThread bool, slave, io string) observation {
	s, r := repl.MustPosition(slave), repl.MustPosition(io)
	return observation{node: testNodes[i], st: repl.NodeStatus{
		ServerID: uint32(i + 1), ReadOnly: true, BinlogPos: s, CurrentPos: s, SlavePos: s,
		Replica: &repl.ReplicaStatus{
			MasterHost: testNodes[of].Host, MasterPort: testNodes[of].Port, UsingGTID: "Slave_Pos",
			IORunning: ioThread, SQLRunning: sqlThread, IOPos: r, SecondsBehind: 0,
		},
	}}
}

func downObs(i int) observation {
	return observation{node: testNodes[i], err: errors.New("dial unix: connection refused")}
}

func readOnly(o observation) observation { o.st.ReadOnly = true; return o }

func TestDecide(t *testing.T) {
	now := time.Now()
	recent := &Event{At: now.Add(-10 * time.Second), From: "db-2", To: "db-0"}
	long := &Event{At: now.Add(-2 * time.Minute), From: "db-2", To: "db-0"}
	for _, c := range []struct {
		name string
		f    failure
		want string
	}{
		{"not for long enough", failure{primary: downObs(0), since: time.Second}, "wait"},
		{"unreachable", failure{primary: downObs(0), since: 2 * time.Second}, "act: db-0 unreachable for 2s: dial unix: connection refused"},
		{"read-only after a restart", failure{primary: readOnly(primaryObs(0, "0-1-5")), since: 2 * time.Second, witnesses: []string{"db-1"}},
			"act: db-0 read-only for 2s (it restarted, or was fenced)"},
		{"a replica still hears it", failure{primary: downObs(0), since: 2 * time.Second, witnesses: []string{"db-1"}}, "hold witness"},
		{"paused", failure{primary: downObs(0), since: 2 * time.Second, paused: true}, "hold paused"},
		{"anti-flapping", failure{primary: downObs(0), since: 2 * time.Second, last: recent}, "hold anti-flapping"},
		{"anti-flapping over", failure{primary: downObs(0), since: 2 * time.Second, last: long}, "act: db-0 unreachable for 2s: dial unix: connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.f
			f.now, f.failAfter, f.minGap = now, 1500*time.Millisecond, time.Minute
			v := decide(f)
			got := "wait"
			switch {
			case v.act:
				got = "act: " + v.reason
			case v.held != "":
				got = "hold " + v.held
			}
			if got != c.want {
				t.Errorf("decide = %q (%s), want %q", got, v.hold, c.want)
			}
		})
	}
}

func TestWitnesses_NeedFreshHearing(t *testing.T) {
	now := time.Now()
	connected := replicaObs(1, 0, "Yes", true, "0-1-10", "0-1-10")
	retrying := replicaObs(2, 0, "Connecting", true, "0-1-10", "0-1-10")
	obs := []observation{downObs(0), connected, retrying}

	var h hearing
	h = h.heard(connected, now.Add(-2*time.Second))
	if !h.at.IsZero() {
		t.Fatal("a first sight is no proof of hearing")
	}
	connected.heartbeats++
	h = h.heard(connected, now.Add(-time.Second))
	heard := map[string]hearing{"db-1": h, "db-2": {seen: true, at: now}}
	if got := witnesses(obs, testNodes[0], heard, now); fmt.Sprint(got) != "[db-1]" {
		t.Fatalf("witnesses = %v, want [db-1] (db-2 is reconnecting)", got)
	}
	if got := witnesses(obs, testNodes[0], heard, now.Add(witnessWindow+time.Second)); len(got) > 0 {
		t.Fatalf("witnesses = %v after the window, want none", got)
	}
}

func TestChoose(t *testing.T) {
	cfg := testConfig()
	for _, c := range []struct {
		name   string
		obs    []observation
		forced bool
		aside  string
		want   string
	}{
		{"most advanced", []observation{downObs(0),
			replicaObs(1, 0, "Connecting", true, "0-1-10", "0-1-10"),
			replicaObs(2, 0, "Connecting", false, "0-1-8", "0-1-12")}, false, "", "db-2"},
		{"ties go to the first", []observation{downObs(0),
			replicaObs(1, 0, "No", true, "0-1-10", "0-1-10"),
			replicaObs(2, 0, "No", true, "0-1-10", "0-1-10")}, false, "", "db-1"},
		{"kept aside", []observation{downObs(0),
			replicaObs(1, 0, "No", true, "0-1-10", "0-1-10"),
			replicaObs(2, 0, "No", true, "0-1-10", "0-1-10")}, false, "db-1", "db-2"},
		{"a replica of another primary", []observation{downObs(0),
			replicaObs(1, 2, "No", true, "0-1-20", "0-1-20"),
			replicaObs(2, 0, "No", true, "0-1-10", "0-1-10")}, false, "", "db-2"},
		{"a promotion cut short", []observation{downObs(0),
			primaryObs(1, "0-1-10"),
			replicaObs(2, 0, "No", true, "0-1-10", "0-1-10")}, false, "", "db-1 adopt"},
		{"old primary ahead", []observation{readOnly(primaryObs(0, "0-1-12")),
			replicaObs(1, 0, "No", true, "0-1-10", "0-1-10"),
			replicaObs(2, 0, "No", true, "0-1-9", "0-1-9")}, false, "", "db-0 in place"},
		{"old primary ahead, forced", []observation{readOnly(primaryObs(0, "0-1-12")),
			replicaObs(1, 0, "No", true, "0-1-10", "0-1-10"),
			replicaObs(2, 0, "No", true, "0-1-9", "0-1-9")}, true, "", "db-1"},
		{"old primary level", []observation{readOnly(primaryObs(0, "0-1-10")),
			replicaObs(1, 0, "Yes", true, "0-1-10", "0-1-10"),
			replicaObs(2, 0, "Yes", true, "0-1-10", "0-1-10")}, false, "", "db-1"},
		{"no replica, old answers", []observation{readOnly(primaryObs(0, "0-1-10")), downObs(1), downObs(2)}, false, "", "db-0 in place"},
		{"no replica, old down", []observation{downObs(0), downObs(1), downObs(2)}, false, "", "error: " + ErrNoCandidate.Error()},
		{"applier broken", []observation{downObs(0), func() observation {
			o := replicaObs(1, 0, "No", false, "0-1-9", "0-1-10")
			o.st.Replica.LastSQLErrno = 1062
			return o
		}(), downObs(2)}, false, "", "error: " + ErrNoCandidate.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := cfg
			if c.aside != "" {
				cfg.KeptAside = map[string]Aside{c.aside: {}}
			}
			ch, err := choose(cfg, c.obs, c.forced)
			got := ch.to
			switch {
			case err != nil:
				got = "error: " + err.Error()
			case ch.adopt:
				got += " adopt"
			case ch.inPlace:
				got += " in place"
			}
			if got != c.want {
				t.Errorf("choose = %q (%s), want %q", got, ch.why, c.want)
			}
		})
	}
}

// TestPlan compares the printed plan for the other nodes of a healthy
// primary: db-1, promoted at 0-1-20 after db-0 was lost, has written up
// to 0-2-30 since.
func TestPlan(t *testing.T) {
	cfg := testConfig()
	cfg.Primary, cfg.PromotedAt = "db-1", repl.MustPosition("0-1-20")
	primary := primaryObs(1, "0-2-30")
	errantOld := readOnly(primaryObs(0, "0-1-21")) // committed without an ack
	cleanOld := readOnly(primaryObs(0, "0-1-20"))
	restarted := replicaObs(2, 1, "No", false, "0-2-25", "0-2-25")
	stoppedByHand := replicaObs(2, 1, "Yes", false, "0-2-25", "0-2-30")
	localWrite := replicaObs(2, 1, "No", false, "0-2-25", "0-2-25")
	localWrite.st.BinlogPos = repl.MustPosition("0-3-26")
	localWrite.st.CurrentPos = localWrite.st.BinlogPos
	for _, c := range []struct {
		name   string
		obs    []observation
		paused bool
		aside  string
		want   []string
	}{
		{"old primary comes back clean", []observation{cleanOld, primary, replicaObs(2, 1, "Yes", true, "0-2-30", "0-2-30")}, false, "",
			[]string{"db-0: rejoin, replicates from nobody"}},
		{"old primary comes back errant", []observation{errantOld, primary, restarted}, false, "", []string{
			"db-0: keep aside, replicates from nobody; it holds transactions db-1 never had (0-1-21)",
			"db-2: rejoin, replication stopped (restarted)"}},
		{"old primary woke up writable", []observation{primaryObs(0, "0-1-20"), primary, stoppedByHand}, false, "",
			[]string{"db-0: fence, writable, but db-1 is the primary"}},
		{"a replica of an earlier primary", []observation{downObs(0), primary, replicaObs(2, 0, "Connecting", true, "0-1-19", "0-1-19")}, false, "",
			[]string{"db-2: rejoin, replicates from 127.0.0.1:3310, not from db-1"}},
		{"a local write on a replica", []observation{downObs(0), primary, localWrite}, false, "",
			[]string{"db-2: keep aside, replication stopped (restarted); it holds transactions db-1 never had (0-3-26)"}},
		{"paused", []observation{primaryObs(0, "0-1-20"), primary, restarted}, true, "",
			[]string{"db-0: fence, writable, but db-1 is the primary"}},
		{"kept aside stays aside", []observation{cleanOld, primary, restarted}, false, "db-0",
			[]string{"db-2: rejoin, replication stopped (restarted)"}},
		{"kept aside and re-seeded", []observation{replicaObs(0, 1, "Yes", true, "0-2-30", "0-2-30"), primary, stoppedByHand}, false, "db-0",
			[]string{"db-0: release, replicates from db-1 without errant transactions: re-seeded"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := cfg
			if c.aside != "" {
				cfg.KeptAside = map[string]Aside{c.aside: {}}
			}
			var got []string
			for _, s := range plan(cfg, c.obs, c.paused) {
				got = append(got, s.String())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	cfg := testConfig()
	lagging := replicaObs(1, 0, "Yes", true, "0-1-5", "0-1-10")
	lagging.st.Replica.SecondsBehind = 11
	print := func(rs []route) string {
		var b strings.Builder
		for _, r := range rs {
			fmt.Fprintf(&b, "%s/%s %s (%s)\n", r.backend, r.server, r.state, r.why)
		}
		return b.String()
	}
	for _, c := range []struct {
		name string
		obs  []observation
		want string
	}{
		{"healthy", []observation{primaryObs(0, "0-1-10"), replicaObs(1, 0, "Yes", true, "0-1-10", "0-1-10"), replicaObs(2, 0, "Yes", true, "0-1-10", "0-1-10")}, `
db-write/db-0 ready (the primary)
db-write/db-1 maint (not the primary)
db-read/db-1 ready (replicating)
db-write/db-2 maint (not the primary)
db-read/db-2 ready (replicating)
db-read/db-0 maint (the primary; replicas serve reads)
`},
		{"lag and a stopped applier", []observation{primaryObs(0, "0-1-10"), lagging, replicaObs(2, 0, "Yes", false, "0-1-10", "0-1-10")}, `
db-write/db-0 ready (the primary)
db-write/db-1 maint (not the primary)
db-read/db-1 drain (11s behind, more than 10s)
db-write/db-2 maint (not the primary)
db-read/db-2 drain (sql thread stopped)
db-read/db-0 ready (no replica can serve reads: the primary stands in)
`},
		{"primary down: replicas keep serving", []observation{downObs(0), replicaObs(1, 0, "No", true, "0-1-10", "0-1-10"), downObs(2)}, `
db-write/db-0 ready (the primary)
db-write/db-1 maint (not the primary)
db-read/db-1 ready (replicating)
db-write/db-2 maint (not the primary)
db-read/db-2 maint (unreachable)
db-read/db-0 maint (the primary; replicas serve reads)
`},
		{"io thread stopped under a live primary", []observation{primaryObs(0, "0-1-10"), replicaObs(1, 0, "No", true, "0-1-10", "0-1-10"), readOnly(primaryObs(2, "0-1-10"))}, `
db-write/db-0 ready (the primary)
db-write/db-1 maint (not the primary)
db-read/db-1 drain (io thread stopped)
db-write/db-2 maint (not the primary)
db-read/db-2 drain (not replicating from db-0)
db-read/db-0 ready (no replica can serve reads: the primary stands in)
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := print(routes(cfg, c.obs)); got != c.want[1:] {
				t.Errorf("routes:\n%swant:\n%s", got, c.want[1:])
			}
		})
	}
	cfg.KeptAside = map[string]Aside{"db-2": {}}
	for _, r := range routes(cfg, []observation{primaryObs(0, "0-1-10"), replicaObs(1, 0, "Yes", true, "0-1-10", "0-1-10"), replicaObs(2, 0, "Yes", true, "0-1-10", "0-1-10")}) {
		if r.server == "db-2" && r.state != haproxy.Maint {
			t.Errorf("kept-aside db-2 is %s in %s, want maint", r.state, r.backend)
		}
	}
}

func TestNeedsSet(t *testing.T) {
	for _, c := range []struct {
		cur  haproxy.Status
		want haproxy.AdminState
		set  bool
	}{
		{haproxy.StatusUp, haproxy.Ready, false},
		{haproxy.StatusDown, haproxy.Ready, false}, // HAProxy's checks decide
		{haproxy.StatusMaint, haproxy.Ready, true},
		{haproxy.StatusDrain, haproxy.Ready, true},
		{haproxy.StatusUp, haproxy.Drain, true},
		{haproxy.StatusDrain, haproxy.Drain, false},
		{haproxy.StatusDown, haproxy.Drain, false},
		{haproxy.StatusUp, haproxy.Maint, true},
		{haproxy.StatusDown, haproxy.Maint, true},
		{haproxy.StatusMaint, haproxy.Maint, false},
	} {
		if got := needsSet(c.cur, c.want); got != c.set {
			t.Errorf("needsSet(%s, %s) = %t, want %t", c.cur, c.want, got, c.set)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"unknown primary", func(c *Config) { c.Primary = "db-9" }, `primary "db-9": no such db node`},
		{"no socket", func(c *Config) { c.Nodes = []repl.Node{{Name: "db-0"}} }, "node db-0 has no admin socket"},
		{"twice", func(c *Config) { c.Nodes = append(c.Nodes, testNodes[0]) }, "node db-0 appears twice"},
		{"haproxy without backends", func(c *Config) { c.HAProxySocket, c.ReadBackend = "/run/lb.sock", "" }, "needs the write and read backends"},
	} {
		cfg := testConfig()
		cfg.Nodes = append([]repl.Node(nil), testNodes...)
		c.edit(&cfg)
		err := cfg.validate()
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: validate = %v, want %q", c.name, err, c.want)
		}
	}
}

// TestTopology_JSON pins the shape `trio db status -o json` shows, and
// that the persisted state reads back.
func TestTopology_JSON(t *testing.T) {
	cfg := testConfig()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg.KeptAside = map[string]Aside{"db-2": {Errant: repl.MustPosition("0-3-26"), Reason: "it holds transactions db-0 never had", Since: at}}
	cfg.LastFailover = &Event{Kind: "failover", At: at, From: "db-1", To: "db-0", Reason: "db-1 unreachable", Took: Duration(70 * time.Millisecond), PromotedAt: repl.MustPosition("0-1-20")}
	obs := []observation{primaryObs(0, "0-1-30"), replicaObs(1, 0, "Yes", true, "0-1-30", "0-1-30"), downObs(2)}
	servers := []haproxy.Server{{Backend: "db-write", Name: "db-0", Status: haproxy.StatusUp}, {Backend: "db-read", Name: "db-1", Status: haproxy.StatusDrain}}
	top := Topology{Primary: "db-0", PromotedAt: cfg.PromotedAt, LastFailover: cfg.LastFailover}
	for _, o := range obs {
		top.Nodes = append(top.Nodes, nodeState(cfg, obs, o, servers, false))
	}
	b, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"role": "primary"`, `"role": "replica"`, `"role": "kept-aside"`,
		`"gtid_binlog_pos": "0-1-30"`, `"master": "db-0"`, `"io_thread": "Yes"`, `"lag_seconds": 0`,
		`"write": "UP"`, `"read": "DRAIN"`, `"errant": "0-3-26"`, `"took": "70ms"`,
		`"error": "dial unix: connection refused"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	// The config the caller persists reads back the same.
	b, err = json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.LastFailover.Took != cfg.LastFailover.Took || back.KeptAside["db-2"].Errant.String() != "0-3-26" || back.FailAfter != cfg.FailAfter {
		t.Fatalf("config after a JSON round trip: %+v", back)
	}
}
