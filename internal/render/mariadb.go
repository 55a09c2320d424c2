package render

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/trio-stack/trio/internal/stack"
)

type mariadbData struct {
	User     string
	DataDir  string
	Socket   string
	Port     int
	Pidfile  string
	Tmp      string
	ServerID int
	Settings [][2]string
}

// MariaDB renders my.cnf for one db instance. It listens on loopback only
// and on a unix socket of its own, never clashing with a system MariaDB.
func MariaDB(st *stack.Stack, env Env, inst stack.Instance) (map[string][]byte, error) {
	d := mariadbData{
		User:     env.DBUser,
		DataDir:  env.DataDir(inst.Index),
		Socket:   env.DBSocket(inst.Index),
		Port:     st.DB.Port + inst.Index,
		Pidfile:  env.Pidfile(inst),
		Tmp:      filepath.Join(env.Tmp, inst.String()),
		ServerID: inst.Index + 1,
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
