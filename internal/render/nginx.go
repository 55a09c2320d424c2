package render

import (
	"fmt"
	"path/filepath"
	"strings"

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
	ServerNames  string
	Root         string
	MaxBodySize  string
	MaxAge       int64
	ImmutableAge int64
	Upstreams    []string
	FrontFile    string // the PHP front controller, as PHP-FPM resolves it
	FrontName    string // its name as a URL path, /index.php

	// Behind HAProxy, or a CDN: whose X-Forwarded-For to believe.
	RealIPFrom   []string
	RealIPHeader string
	// Limits: the second line of defence behind HAProxy (or the only one).
	Rate, Burst, Conns int
	HeaderTimeout      int64
	BodyTimeout        int64
	Allow, Deny        []string
	// ForwardedProto: HAProxy says whether the client came over HTTPS.
	ForwardedProto bool
}

// Nginx renders the main config and the site of one web instance.
func Nginx(st *stack.Stack, env Env, inst stack.Instance) (map[string][]byte, error) {
	l := st.Limits
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
		ServerNames:   st.Web.ServerName,
		Root:          WebRoot(st, env),
		MaxBodySize:   st.Web.MaxBodySize,
		MaxAge:        st.Web.Static.MaxAge.Seconds(),
		ImmutableAge:  st.Web.Static.ImmutableMaxAge.Seconds(),
		FrontFile:     FrontController(st, env),
		FrontName:     "/" + st.App.Index,
		Rate:          l.Rate,
		Burst:         l.Burst,
		Conns:         l.Connections,
		HeaderTimeout: l.HeaderTimeout.Seconds(),
		BodyTimeout:   l.BodyTimeout.Seconds(),
		Allow:         l.Allow,
		Deny:          l.Deny,
	}
	if st.LBEnabled() {
		// HAProxy is the only client; it tells the client's address.
		d.Listen = "unix:" + env.WebSocket(inst.Index)
		d.ForwardedProto = true
		d.RealIPFrom = append(d.RealIPFrom, "unix:")
		d.RealIPHeader = "X-Forwarded-For"
	}
	if c := st.Web.CDN; c != nil {
		d.ServerNames += " " + c.OriginHost
		d.RealIPFrom = append(d.RealIPFrom, c.Trusted...)
		d.RealIPHeader = c.ClientIPHeader
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

// WebRoot is where nginx finds static files: inside the current release
// when the web root is part of the app, so code and assets switch together.
func WebRoot(st *stack.Stack, env Env) string {
	root := st.Path(st.Web.Root)
	if env.Releases == "" {
		return root
	}
	rel, err := filepath.Rel(st.Path(st.App.Root), root)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return root
	}
	return filepath.Join(env.Releases, "current", rel)
}

// FrontController is the SCRIPT_FILENAME nginx passes. With releases it is
// relative: each PHP-FPM instance resolves it in its own release, so one
// nginx can talk to instances running different releases during a deploy.
func FrontController(st *stack.Stack, env Env) string {
	if env.Releases != "" {
		return st.App.Index
	}
	return filepath.Join(st.Path(st.App.Root), st.App.Index)
}
