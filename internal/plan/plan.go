// Package plan decides what to do: from what the stack should be and what
// a target observed, it computes an ordered list of steps, each with its
// cause. Deciding is pure; targets do the steps. `trio plan` prints the
// same steps `trio apply` then executes.
package plan

import (
	"fmt"
	"strings"
)

// Action is the kind of a step.
type Action int

// The actions, in the order a plan runs them.
const (
	Install      Action = 1  // install or change Debian packages
	Grant        Action = 2  // let the service users reach the stack's files
	StartAgent   Action = 3  // start the stack's agent
	UpgradeAgent Action = 4  // replace the agent, adopting its processes
	Init         Action = 5  // initialise a database
	Upgrade      Action = 6  // upgrade a data directory made by an older MariaDB
	Start        Action = 7  // start an instance that is not running
	Restart      Action = 8  // stop and start an instance
	Reload       Action = 9  // apply a config change gracefully
	Migrate      Action = 10 // apply a SQL script once
	Password     Action = 11 // set a database account's password
	Stop         Action = 12 // stop an instance that is no longer wanted
	User         Action = 13 // create or update a system account
	Deploy       Action = 14 // move an app instance to another release of the code
	Tune         Action = 15 // change kernel settings of the host
)

func (a Action) String() string {
	switch a {
	case Install:
		return "install"
	case Grant:
		return "grant"
	case StartAgent:
		return "start"
	case UpgradeAgent:
		return "upgrade"
	case Init:
		return "init"
	case Upgrade:
		return "upgrade"
	case Start:
		return "start"
	case Restart:
		return "restart"
	case Reload:
		return "reload"
	case Migrate:
		return "migrate"
	case Password:
		return "password"
	case Stop:
		return "stop"
	case User:
		return "user"
	case Deploy:
		return "deploy"
	case Tune:
		return "tune"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Step is one thing to do, to one target, for one reason.
type Step struct {
	Action Action `json:"action"`
	Target string `json:"target"` // an instance (web-0), "packages", "agent", "db"
	Cause  string `json:"cause"`
	// Subject names what the step works on when the target alone does not:
	// a migration file, a package list.
	Subject string `json:"subject,omitempty"`
}

// String is the stable line `trio plan` prints: "reload web-0: nginx.conf changed".
func (s Step) String() string {
	if s.Subject != "" {
		return fmt.Sprintf("%s %s: %s (%s)", s.Action, s.Target, s.Subject, s.Cause)
	}
	return fmt.Sprintf("%s %s: %s", s.Action, s.Target, s.Cause)
}

// MarshalText lets JSON show the action by name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Plan is the ordered steps, plus notes that change nothing but should be
// read (a file a user took over, a schema edit that will not be applied).
type Plan struct {
	Steps []Step   `json:"steps"`
	Notes []string `json:"notes,omitempty"`
}

// Empty reports whether applying the plan would change nothing.
func (p Plan) Empty() bool { return len(p.Steps) == 0 }

func (p Plan) String() string {
	var b strings.Builder
	for _, n := range p.Notes {
		b.WriteString("note: " + n + "\n")
	}
	if p.Empty() {
		b.WriteString("no changes\n")
		return b.String()
	}
	for _, s := range p.Steps {
		b.WriteString(s.String() + "\n")
	}
	return b.String()
}

// Has reports whether the plan holds a step of that action for target.
func (p Plan) Has(a Action, target string) bool {
	for _, s := range p.Steps {
		if s.Action == a && s.Target == target {
			return true
		}
	}
	return false
}
