package agent

import (
	"context"
	"database/sql"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/trio-stack/trio/internal/db"
)

// pingMySQL logs in over the socket as the administrator and pings.
func pingMySQL(ctx context.Context, socket string) error {
	u, err := db.AdminUser()
	if err != nil {
		return err
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = u, "unix", socket
	cfg.Timeout, cfg.ReadTimeout = time.Second, 2*time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	pool := sql.OpenDB(conn)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return pool.PingContext(ctx)
}
