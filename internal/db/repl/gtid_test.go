package repl

import (
	"encoding/json"
	"testing"
)

func TestParsePosition_Forms(t *testing.T) {
	for _, c := range []struct {
		in, want string
		err      bool
	}{
		{in: "", want: ""},
		{in: "0-1-100", want: "0-1-100"},
		{in: "1-2-5,0-1-100", want: "0-1-100,1-2-5"},
		{in: "0-1-100,\n1-2-5", want: "0-1-100,1-2-5"},
		{in: " 0-1-100 , 1-2-5 ", want: "0-1-100,1-2-5"},
		{in: "0-4294967295-18446744073709551615", want: "0-4294967295-18446744073709551615"},
		{in: "0-1", err: true},
		{in: "0-1-x", err: true},
		{in: "-1-1-1", err: true},
		{in: "0-1-1,0-2-2", err: true},
		{in: "0-4294967296-1", err: true},
	} {
		p, err := ParsePosition(c.in)
		if c.err {
			if err == nil {
				t.Errorf("ParsePosition(%q) = %s, want an error", c.in, p)
			}
			continue
		}
		if err != nil || p.String() != c.want {
			t.Errorf("ParsePosition(%q) = %q, %v; want %q", c.in, p, err, c.want)
		}
	}
}

func TestCompare_PerDomain(t *testing.T) {
	for _, c := range []struct {
		p, q string
		want Order
	}{
		{"", "", Same},
		{"0-1-5", "0-1-5", Same},
		{"0-1-5", "0-2-5", Same}, // servers are not compared
		{"0-1-4", "0-1-5", Behind},
		{"0-1-6", "0-1-5", Ahead},
		{"", "0-1-1", Behind},
		{"0-1-5,1-2-3", "0-1-5", Ahead},
		{"0-1-5", "0-1-5,1-2-3", Behind},
		{"0-1-6,1-2-2", "0-1-5,1-2-3", Concurrent},
		{"0-1-5,1-2-3", "1-2-3,0-1-5", Same},
	} {
		if got := Compare(MustPosition(c.p), MustPosition(c.q)); got != c.want {
			t.Errorf("Compare(%q, %q) = %s, want %s", c.p, c.q, got, c.want)
		}
	}
}

func TestPosition_CoversLagMerge(t *testing.T) {
	p, q := MustPosition("0-1-10,1-2-3"), MustPosition("0-1-7,1-3-5,2-1-1")
	if p.Covers(q) || !p.Covers(MustPosition("0-9-10")) || !p.Covers(nil) {
		t.Error("Covers")
	}
	if got := p.Lag(q); got != 3 { // domain 1: 2, domain 2: 1
		t.Errorf("Lag = %d, want 3", got)
	}
	if got := Merge(p, q).String(); got != "0-1-10,1-3-5,2-1-1" {
		t.Errorf("Merge = %s", got)
	}
}

func TestPosition_JSON(t *testing.T) {
	var v struct{ GTID Position }
	if err := json.Unmarshal([]byte(`{"GTID":"1-2-5,0-1-100"}`), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) != `{"GTID":"0-1-100,1-2-5"}` {
		t.Fatalf("round trip: %s %v", b, err)
	}
}

func replica(slave, io string, sqlRunning bool, sqlErr int) NodeStatus {
	return NodeStatus{
		SlavePos: MustPosition(slave), CurrentPos: MustPosition(slave),
		Replica: &ReplicaStatus{IOPos: MustPosition(io), IORunning: "Connecting", SQLRunning: sqlRunning, LastSQLErrno: sqlErr},
	}
}

func TestMostAdvanced_PicksWhatWasReceived(t *testing.T) {
	stopped := replica("0-1-100", "0-1-150", false, 0)
	stopped.Replica.IORunning = "No"
	for _, c := range []struct {
		name  string
		nodes []NodeStatus
		want  int
	}{
		{"none", nil, -1},
		{"received beats applied", []NodeStatus{replica("0-1-100", "0-1-100", true, 0), replica("0-1-90", "0-1-120", true, 0)}, 1},
		{"tie goes to the first", []NodeStatus{replica("0-1-100", "0-1-100", true, 0), replica("0-1-100", "0-1-100", true, 0)}, 0},
		{"broken applier is passed over", []NodeStatus{replica("0-1-100", "0-1-100", true, 0), replica("0-1-90", "0-1-200", false, 1062)}, 0},
		{"not a replica", []NodeStatus{{CurrentPos: MustPosition("0-1-500")}, replica("0-1-1", "0-1-1", true, 0)}, 1},
		{"a relay log that restarting would purge does not count", []NodeStatus{stopped, replica("0-1-120", "0-1-120", true, 0)}, 1},
		{"concurrent domains: fewer missing", []NodeStatus{replica("0-1-100,1-2-10", "", true, 0), replica("0-1-99,1-2-50", "", true, 0)}, 1},
	} {
		if got := MostAdvanced(c.nodes); got != c.want {
			t.Errorf("%s: MostAdvanced = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestErrant_Cases(t *testing.T) {
	for _, c := range []struct {
		name       string
		node       NodeStatus
		promotedAt string
		want       string
	}{
		{"old primary, all acknowledged", NodeStatus{ServerID: 1, BinlogPos: MustPosition("0-1-100")}, "0-1-100", ""},
		{"old primary, behind", NodeStatus{ServerID: 1, BinlogPos: MustPosition("0-1-98")}, "0-1-100", ""},
		{"old primary, unacknowledged commit", NodeStatus{ServerID: 1, BinlogPos: MustPosition("0-1-101")}, "0-1-100", "0-1-101"},
		{"same sequence, other server: a fork", NodeStatus{ServerID: 1, BinlogPos: MustPosition("0-1-100")}, "0-2-100", "0-1-100"},
		{"domain the new primary never saw", NodeStatus{ServerID: 1, BinlogPos: MustPosition("0-1-100,7-1-3")}, "0-1-100", "7-1-3"},
		{"replica's local write, overtaken since", NodeStatus{
			ServerID: 3, BinlogPos: MustPosition("0-3-51"), SlavePos: MustPosition("0-2-50"), Replica: &ReplicaStatus{},
		}, "0-2-80", "0-3-51"},
		{"replica that replicated its own old writes", NodeStatus{
			ServerID: 3, BinlogPos: MustPosition("0-3-51"), SlavePos: MustPosition("0-3-51"), Replica: &ReplicaStatus{},
		}, "0-2-80", ""},
		{"empty node", NodeStatus{}, "0-1-5", ""},
	} {
		if got := Errant(c.node, MustPosition(c.promotedAt)).String(); got != c.want {
			t.Errorf("%s: Errant = %q, want %q", c.name, got, c.want)
		}
	}
}
