package render

import (
	"fmt"
	"path/filepath"

	"github.com/trio-stack/trio/internal/stack"
)

type nginxData struct {
	User, Group   string
	Pidfile       string
	Tmp           string
	AccessLog     string
	MimeTypes     string
	FastCGIParams string
	Gzip          bool

	Listen       string
	ServerName   string
	Root         string
	MaxBodySize  string
	MaxAge       int64
	ImmutableAge int64
	Upstreams    []string
	FrontFile    string // absolute path of the PHP front controller
	FrontName    string // its name as a URL path, /index.php
}

// Nginx renders the main config and the site of one web instance.
func Nginx(st *stack.Stack, env Env, inst stack.Instance) (map[string][]byte, error) {
	d := nginxData{
		User:          env.WebUser,
		Group:         env.WebUser,
		Pidfile:       env.Pidfile(inst),
		Tmp:           filepath.Join(env.Tmp, inst.String()),
		AccessLog:     filepath.Join(env.Logs, inst.String()+".access.log"),
		MimeTypes:     env.MimeTypes,
		FastCGIParams: env.FastCGIParams,
		Gzip:          *st.Web.Static.Gzip,
		Listen:        st.Web.Listen.String(),
		ServerName:    st.Web.ServerName,
		Root:          st.Path(st.Web.Root),
		MaxBodySize:   st.Web.MaxBodySize,
		MaxAge:        st.Web.Static.MaxAge.Seconds(),
		ImmutableAge:  st.Web.Static.ImmutableMaxAge.Seconds(),
		FrontFile:     filepath.Join(st.Path(st.App.Root), st.App.Index),
		FrontName:     "/" + st.App.Index,
	}
	for i := 0; i < st.Replicas(stack.TierApp); i++ {
		d.Upstreams = append(d.Upstreams, env.AppSocket(i))
	}
	main, err := execute("nginx.conf.tmpl", d)
	if err != nil {
		return nil, fmt.Errorf("nginx.conf: %w", err)
	}
	site, err := execute("site.conf.tmpl", d)
	if err != nil {
		return nil, fmt.Errorf("site.conf: %w", err)
	}
	return map[string][]byte{"nginx.conf": main, "site.conf": site}, nil
}
