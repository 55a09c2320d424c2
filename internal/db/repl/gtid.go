package repl

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// GTID is one MariaDB global transaction id: domain-server-sequence.
type GTID struct {
	Domain uint32
	Server uint32
	Seq    uint64
}

func (g GTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// ParseGTID reads "domain-server-seq".
func ParseGTID(s string) (GTID, error) {
	parts := strings.Split(strings.TrimSpace(s), "-")
	if len(parts) != 3 {
		return GTID{}, fmt.Errorf("parse gtid %q: want domain-server-seq", s)
	}
	d, err1 := strconv.ParseUint(parts[0], 10, 32)
	srv, err2 := strconv.ParseUint(parts[1], 10, 32)
	seq, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return GTID{}, fmt.Errorf("parse gtid %q: want three unsigned numbers", s)
	}
	return GTID{Domain: uint32(d), Server: uint32(srv), Seq: seq}, nil
}

// Position is a GTID position as MariaDB shows it in gtid_binlog_pos,
// gtid_slave_pos and friends: the last GTID of each replication domain,
// at most one per domain. ParsePosition keeps it sorted by domain.
type Position []GTID

// ParsePosition reads a comma-separated GTID list ("0-1-100,1-2-5"). The
// empty string is the empty position (nothing applied yet). Newlines are
// accepted as separators too, since SHOW output wraps long lists.
func ParsePosition(s string) (Position, error) {
	var p Position
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if strings.TrimSpace(f) == "" {
			continue
		}
		g, err := ParseGTID(f)
		if err != nil {
			return nil, fmt.Errorf("parse position %q: %w", s, err)
		}
		if _, dup := p.Domain(g.Domain); dup {
			return nil, fmt.Errorf("parse position %q: domain %d appears twice", s, g.Domain)
		}
		p = append(p, g)
	}
	slices.SortFunc(p, func(a, b GTID) int { return cmp.Compare(a.Domain, b.Domain) })
	return p, nil
}

// MustPosition is ParsePosition for constants; it panics on bad input.
func MustPosition(s string) Position {
	p, err := ParsePosition(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String gives the form MariaDB accepts in SET GLOBAL gtid_slave_pos and
// MASTER_GTID_WAIT.
func (p Position) String() string {
	parts := make([]string, len(p))
	for i, g := range p {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// MarshalText writes the MariaDB form, so a Position is a plain string in JSON.
func (p Position) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads the MariaDB form.
func (p *Position) UnmarshalText(b []byte) error {
	q, err := ParsePosition(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// Domain returns the last GTID of one domain.
func (p Position) Domain(d uint32) (GTID, bool) {
	for _, g := range p {
		if g.Domain == d {
			return g, true
		}
	}
	return GTID{}, false
}

// Covers reports whether p has reached q in every domain of q: a node at
// p has applied everything a node at q has (given one shared history).
func (p Position) Covers(q Position) bool {
	for _, g := range q {
		h, ok := p.Domain(g.Domain)
		if !ok || h.Seq < g.Seq {
			return false
		}
	}
	return true
}

// Lag counts the transactions p lacks to reach q, summed over domains.
func (p Position) Lag(q Position) uint64 {
	var n uint64
	for _, g := range q {
		h, _ := p.Domain(g.Domain)
		if g.Seq > h.Seq {
			n += g.Seq - h.Seq
		}
	}
	return n
}

// Order is how two positions relate.
type Order int

const (
	Same       Order = 0 // the same sequence number in every domain
	Behind     Order = 1 // p lacks transactions q has, and has none q lacks
	Ahead      Order = 2 // p has transactions q lacks, and lacks none
	Concurrent Order = 3 // each has transactions the other lacks (different domains)
)

func (o Order) String() string {
	switch o {
	case Same:
		return "same"
	case Behind:
		return "behind"
	case Ahead:
		return "ahead"
	case Concurrent:
		return "concurrent"
	}
	return fmt.Sprintf("Order(%d)", int(o))
}

// Compare relates p to q domain by domain, by sequence number. A missing
// domain counts as sequence 0. Server ids are not compared: positions
// alone cannot tell a shared history from a forked one (see Errant).
func Compare(p, q Position) Order {
	ahead, behind := false, false
	for _, d := range domains(p, q) {
		a, _ := p.Domain(d)
		b, _ := q.Domain(d)
		switch {
		case a.Seq > b.Seq:
			ahead = true
		case a.Seq < b.Seq:
			behind = true
		}
	}
	switch {
	case ahead && behind:
		return Concurrent
	case ahead:
		return Ahead
	case behind:
		return Behind
	}
	return Same
}

// Merge returns, per domain, the GTID with the higher sequence number.
func Merge(p, q Position) Position {
	var out Position
	for _, d := range domains(p, q) {
		a, okA := p.Domain(d)
		b, okB := q.Domain(d)
		switch {
		case !okB || (okA && a.Seq >= b.Seq):
			out = append(out, a)
		default:
			out = append(out, b)
		}
	}
	return out
}

func domains(p, q Position) []uint32 {
	var ds []uint32
	for _, g := range p {
		ds = append(ds, g.Domain)
	}
	for _, g := range q {
		ds = append(ds, g.Domain)
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

// MostAdvanced picks the failover candidate among replicas of a lost
// primary: the one that has received the most (Gtid_IO_Pos merged with
// what it applied), since Promote applies everything it received first.
// With semi-sync, the most advanced replica holds every transaction the
// primary acknowledged to a client. Nodes that cannot be promoted without
// losing what they received (not replicas, or applier stopped with an
// error) are passed over. Ties go to the earlier node, so callers list
// nodes in order of preference. It returns -1 when there is no candidate.
func MostAdvanced(nodes []NodeStatus) int {
	best := -1
	for i, n := range nodes {
		if n.Replica == nil || n.Replica.LastSQLErrno != 0 {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		a, b := n.Received(), nodes[best].Received()
		switch Compare(a, b) {
		case Ahead:
			best = i
		case Concurrent:
			// Several domains moved independently: prefer the node that
			// lacks fewer transactions overall.
			if a.Lag(b) < b.Lag(a) {
				best = i
			}
		}
	}
	return best
}

// Errant returns the transactions (the last GTID of each affected domain)
// that node holds and that the new primary never saw; empty means node can
// rejoin the new primary as a replica. Such transactions come from an old
// primary that committed without a replica's acknowledgement, or from a
// write on a node while its read_only was off. promotedAt is the position
// the new primary was promoted at (Promote returns it); the new primary's
// current gtid_binlog_pos works too, but then a fork that the new primary
// has since overtaken in sequence numbers goes unseen.
//
// Besides comparing with promotedAt, a node that is configured as a
// replica is checked against itself: a GTID in its binlog past its
// gtid_slave_pos that carries its own server id was written locally.
// A node found errant must be kept aside (its data inspected, then
// re-seeded); the server would also refuse it under gtid_strict_mode.
func Errant(node NodeStatus, promotedAt Position) Position {
	var out Position
	for _, g := range Merge(node.BinlogPos, node.CurrentPos) {
		if g.Seq == 0 {
			continue
		}
		n, ok := promotedAt.Domain(g.Domain)
		switch {
		case !ok, g.Seq > n.Seq, g.Seq == n.Seq && g.Server != n.Server:
			out = append(out, g)
			continue
		}
		if node.Replica != nil && g.Server == node.ServerID {
			if s, ok := node.SlavePos.Domain(g.Domain); !ok || g.Seq > s.Seq {
				out = append(out, g)
			}
		}
	}
	return out
}
