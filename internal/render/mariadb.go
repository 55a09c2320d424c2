package render

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/trio-stack/trio/internal/db/repl"
	"github.com/trio-stack/trio/internal/stack"
)

type mariadbData struct {
	User        string
	DataDir     string
	Socket      string
	Port        int
	Pidfile     string
	Tmp         string
	Replication [][2]string
	Settings    [][2]string
}

// MariaDB renders my.cnf for one db instance. It listens on loopback only
// and on a unix socket of its own, never clashing with a system MariaDB.
func MariaDB(st *stack.Stack, env Env, inst stack.Instance) (map[string][]byte, error) {
	d := mariadbData{
		User:    env.DBUser,
		DataDir: env.DataDir(inst.Index),
		Socket:  env.DBSocket(inst.Index),
		Port:    st.DBInstancePort(inst.Index),
		Pidfile: env.Pidfile(inst),
		Tmp:     filepath.Join(env.Tmp, inst.String()),
	}
	repl := ReplicationSettings(st, inst)
	for _, k := range slices.Sorted(maps.Keys(repl)) {
		d.Replication = append(d.Replication, [2]string{k, repl[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(st.DB.Settings)) {
		d.Settings = append(d.Settings, [2]string{k, st.DB.Settings[k]})
	}
	conf, err := execute("my.cnf.tmpl", d)
	if err != nil {
		return nil, fmt.Errorf("my.cnf: %w", err)
	}
	return map[string][]byte{"my.cnf": conf}, nil
}

// ReplicationSettings are the binlog and replication settings of a db
// instance. With replicas every node starts read-only as a replica and
// the agent promotes the primary, so a crashed primary that restarts
// comes back fenced; a lone database is simply writable.
func ReplicationSettings(st *stack.Stack, inst stack.Instance) map[string]string {
	id := uint32(inst.Index + 1)
	if st.DB.Replicas == 0 {
		s := repl.Settings(repl.Primary, id, repl.SettingsOptions{Standalone: true})
		s["read_only"] = "OFF"
		return s
	}
	return repl.Settings(repl.Replica, id, repl.SettingsOptions{
		WaitPoint:       repl.WaitPoint(st.DB.Replication.WaitPoint),
		SemiSyncTimeout: st.DB.Replication.SemiSyncTimeout.Duration,
	})
}
