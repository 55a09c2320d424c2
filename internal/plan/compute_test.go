package plan

import (
	"strings"
	"testing"
)

func files(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func running(name string, reloadable bool, want, have map[string]string) InstanceFacts {
	return InstanceFacts{Name: name, Want: want, Have: have, Running: true, State: "running", Reloadable: reloadable}
}

func TestCompute_PrintedPlans(t *testing.T) {
	agentOK := AgentFacts{Running: true, Version: "v1", WantVersion: "v1"}
	same := files("nginx.conf", "a", "site.conf", "b")
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{
			name: "nothing changed",
			in: Input{Agent: agentOK, DBTarget: "db-0", Instances: []InstanceFacts{
				running("db-0", false, files("my.cnf", "1"), files("my.cnf", "1")),
				running("web-0", true, same, same),
			}},
			want: "no changes",
		},
		{
			name: "fresh host",
			in: Input{
				Packages: []string{"nginx=1.22.1-9", "php8.2-fpm=8.2.36-1"}, PackageCause: "not installed",
				Grant: []string{"/root"}, DBTarget: "db-0",
				Instances: []InstanceFacts{
					{Name: "db-0", Want: files("my.cnf", "1"), NeedsInit: true, InitCause: "new data directory; then schema.sql and 1 migration", State: "stopped"},
					{Name: "app-0", Want: files("php-fpm.conf", "1"), Reloadable: true},
					{Name: "web-0", Want: same, Reloadable: true},
				},
			},
			want: `install packages: nginx=1.22.1-9 php8.2-fpm=8.2.36-1 (not installed)
grant access: o+x on /root so the service users can reach the stack
start agent: not running
init db-0: new data directory; then schema.sql and 1 migration
start db-0: not running
start app-0: not running
start web-0: not running`,
		},
		{
			name: "config changes",
			in: Input{Agent: agentOK, DBTarget: "db-0", Instances: []InstanceFacts{
				running("db-0", false, files("my.cnf", "2"), files("my.cnf", "1")),
				running("app-0", true, files("php-fpm.conf", "1"), files("php-fpm.conf", "1")),
				running("web-0", true, files("nginx.conf", "a", "site.conf", "c"), same),
			}},
			want: `restart db-0: my.cnf changed; the server reads it only at start
reload web-0: site.conf changed`,
		},
		{
			name: "migrations, password, crash loop, upgrade agent",
			in: Input{Agent: AgentFacts{Running: true, Version: "v1", WantVersion: "v2"}, DBTarget: "db-0",
				Scripts: []string{"002_b.sql", "003_c.sql"}, Password: true,
				Instances: []InstanceFacts{
					running("db-0", false, files("my.cnf", "1"), files("my.cnf", "1")),
					{Name: "app-0", Want: files("php-fpm.conf", "1"), Have: files("php-fpm.conf", "1"), State: "crash-loop", SecretsChanged: true},
				},
				Removed: []string{"app-1", "web-1"},
			},
			want: `upgrade agent: running v1, this trio is v2; its processes are adopted, not restarted
migrate db-0: 002_b.sql (not applied yet)
migrate db-0: 003_c.sql (not applied yet)
password db-0: accept the old and the new password (the app account's password changed)
start app-0: not running (crash-loop)
password db-0: accept only the new password (every app instance has the new one)
stop web-1: no longer in trio.yaml
stop app-1: no longer in trio.yaml`,
		},
		{
			name: "credentials only",
			in: Input{Agent: agentOK, Instances: []InstanceFacts{
				{Name: "app-0", Want: files("php-fpm.conf", "1"), Have: files("php-fpm.conf", "1"), Running: true, Reloadable: true, SecretsChanged: true},
			}},
			want: "reload app-0: credentials changed",
		},
		{
			name: "an interrupted password change is finished",
			in: Input{Agent: agentOK, DBTarget: "db-0", Retire: true, Instances: []InstanceFacts{
				running("db-0", false, files("my.cnf", "1"), files("my.cnf", "1")),
			}},
			want: "password db-0: accept only the new password (every app instance has the new one)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.TrimSpace(Compute(tt.in).String())
			if got != tt.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
