package stack

import (
	"fmt"
	"strconv"
	"strings"
)

// Tier is one layer of the stack.
type Tier int

// The tiers, in the order they start: each one needs the one before.
const (
	TierDB  Tier = 1
	TierApp Tier = 2
	TierWeb Tier = 3
	TierLB  Tier = 4 // HAProxy in front of the web tier
)

// Tiers lists every tier in start order.
var Tiers = []Tier{TierDB, TierApp, TierWeb, TierLB}

func (t Tier) String() string {
	switch t {
	case TierDB:
		return "db"
	case TierApp:
		return "app"
	case TierWeb:
		return "web"
	case TierLB:
		return "lb"
	}
	return "tier(" + strconv.Itoa(int(t)) + ")"
}

// ParseTier reads a tier name as the CLI takes it.
func ParseTier(s string) (Tier, error) {
	for _, t := range Tiers {
		if t.String() == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tier %q; use lb, web, app or db", s)
}

// Instance is one running copy of a tier, such as web-0.
type Instance struct {
	Tier  Tier
	Index int
}

func (i Instance) String() string { return fmt.Sprintf("%s-%d", i.Tier, i.Index) }

// ParseInstance reads "web-0".
func ParseInstance(s string) (Instance, error) {
	tier, idx, ok := strings.Cut(s, "-")
	n, err := strconv.Atoi(idx)
	if !ok || err != nil || n < 0 {
		return Instance{}, fmt.Errorf("%q is not an instance name such as web-0", s)
	}
	t, err := ParseTier(tier)
	if err != nil {
		return Instance{}, err
	}
	return Instance{Tier: t, Index: n}, nil
}

// Instances lists the instances trio.yaml asks for, in start order.
func (s *Stack) Instances() []Instance {
	var out []Instance
	for _, t := range Tiers {
		for i := 0; i < s.Replicas(t); i++ {
			out = append(out, Instance{Tier: t, Index: i})
		}
	}
	return out
}

// Replicas is how many instances a tier runs. The database runs one
// primary plus db.replicas replicas.
func (s *Stack) Replicas(t Tier) int {
	switch t {
	case TierWeb:
		return s.Web.Replicas
	case TierApp:
		return s.App.Replicas
	case TierDB:
		return 1 + s.DB.Replicas
	case TierLB:
		if s.LBEnabled() {
			return 1
		}
	}
	return 0
}
