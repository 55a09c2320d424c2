package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Input is every fact the planner needs: what should be, as rendered from
// trio.yaml, and what a target observed. Targets fill it; Compute is pure.
type Input struct {
	// Packages to install, as "name=version", with why (missing, drifted).
	Packages     []string
	PackageCause string
	// Grant lists directories the service users cannot traverse yet.
	Grant []string
	// Users are the system accounts to create or change, with why.
	Users []Change
	// Tune lists kernel settings to change, as "key from → to".
	Tune string

	Agent     AgentFacts
	Instances []InstanceFacts // in start order
	// Removed are running instances trio.yaml no longer asks for.
	Removed []string

	Scripts []string // SQL scripts not yet applied, in order
	// Password: the app account's password differs from trio.yaml's. It
	// changes in two steps around the app's reload, so no connection is
	// refused: first both passwords are accepted, then only the new one.
	Password bool
	// Retire: the account still accepts an old password as well (a change
	// that was interrupted); only the second step remains.
	Retire   bool
	DBTarget string // the instance that takes SQL (the primary)
}

// Change is one named thing to change and why.
type Change struct {
	Name  string
	Cause string
}

// AgentFacts describes the stack's agent.
type AgentFacts struct {
	Running     bool
	Version     string // of the running agent
	WantVersion string // of this trio binary
}

// InstanceFacts describes one instance, desired against observed.
type InstanceFacts struct {
	Name string
	// Want and Have map each config file to a digest of its content; Have
	// is what the running instance was started or reloaded with.
	Want, Have  map[string]string
	SpecChanged bool   // its program or arguments changed
	Running     bool   // the agent reports it up
	State       string // as the agent reports it, for the cause
	// Reloadable: a config change is applied by a graceful reload. False
	// for MariaDB, which reads its config only at start.
	Reloadable bool
	// NeedsInit: there is no data directory yet (databases only).
	NeedsInit bool
	InitCause string
	// Upgrade: the data directory was made by an older server version.
	Upgrade string
	// Secrets changed: the private credentials file differs.
	SecretsChanged bool
	// Deploy, when set, says why the instance moves to another release.
	Deploy string
}

// Compute orders the steps: packages and access first, then the agent,
// then each instance in start order (a database is initialised and
// started before scripts run and before the app that needs it).
func Compute(in Input) Plan {
	var p Plan
	add := func(a Action, target, cause string) {
		p.Steps = append(p.Steps, Step{Action: a, Target: target, Cause: cause})
	}
	if len(in.Packages) > 0 {
		p.Steps = append(p.Steps, Step{Action: Install, Target: "packages", Subject: strings.Join(in.Packages, " "), Cause: in.PackageCause})
	}
	if len(in.Grant) > 0 {
		add(Grant, "access", "o+x on "+strings.Join(in.Grant, ", ")+" so the service users can reach the stack")
	}
	if in.Tune != "" {
		add(Tune, "host", in.Tune)
	}
	for _, u := range in.Users {
		add(User, u.Name, u.Cause)
	}
	switch {
	case !in.Agent.Running:
		add(StartAgent, "agent", "not running")
	case in.Agent.Version != in.Agent.WantVersion:
		add(UpgradeAgent, "agent", fmt.Sprintf("running %s, this trio is %s; its processes are adopted, not restarted", in.Agent.Version, in.Agent.WantVersion))
	}
	for _, inst := range in.Instances {
		if inst.NeedsInit {
			add(Init, inst.Name, inst.InitCause)
		}
		if inst.Upgrade != "" {
			add(Upgrade, inst.Name, inst.Upgrade)
		}
		changed := changedFiles(inst.Want, inst.Have)
		switch {
		case !inst.Running:
			cause := "not running"
			if inst.State != "" && inst.State != "stopped" {
				cause = "not running (" + inst.State + ")"
			}
			add(Start, inst.Name, cause)
		case inst.SpecChanged:
			add(Restart, inst.Name, "its command line changed")
		case len(changed) > 0 && !inst.Reloadable:
			add(Restart, inst.Name, strings.Join(changed, ", ")+" changed; the server reads it only at start")
		case len(changed) > 0:
			add(Reload, inst.Name, strings.Join(changed, ", ")+" changed")
		case inst.SecretsChanged:
			add(Reload, inst.Name, "credentials changed")
		}
		if inst.Deploy != "" && inst.Running {
			add(Deploy, inst.Name, inst.Deploy)
		}
		if inst.Name == in.DBTarget {
			for _, s := range in.Scripts {
				p.Steps = append(p.Steps, Step{Action: Migrate, Target: inst.Name, Subject: s, Cause: "not applied yet"})
			}
			if in.Password && !inst.NeedsInit {
				p.Steps = append(p.Steps, Step{Action: Password, Target: inst.Name, Subject: SubjectBoth, Cause: "the app account's password changed"})
			}
		}
	}
	if in.Password || in.Retire {
		p.Steps = append(p.Steps, Step{Action: Password, Target: in.DBTarget, Subject: SubjectNewOnly, Cause: "every app instance has the new one"})
	}
	for i := len(in.Removed) - 1; i >= 0; i-- {
		add(Stop, in.Removed[i], "no longer in trio.yaml")
	}
	return p
}

// The two steps of a password change.
const (
	SubjectBoth    = "accept the old and the new password"
	SubjectNewOnly = "accept only the new password"
)

// changedFiles names the files whose content differs, in a stable order.
func changedFiles(want, have map[string]string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if have[name] != want[name] {
			out = append(out, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[name]; !ok {
			out = append(out, name+" (removed)")
		}
	}
	return out
}
