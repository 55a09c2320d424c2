package render

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/haproxy"
	"github.com/trio-stack/trio/internal/stack"
)

// TLSFile is the secret file HAProxy reads the certificate from: the
// certificate chain followed by its private key, in PEM.
const TLSFile = "tls.pem"

type haproxyData struct {
	Names       haproxyNames
	Pidfile     string
	User        string
	MaxConn     int
	AdminSocket string
	StateFile   string

	ClientTimeout string
	HeaderTimeout string // "" when off
	BodyTimeout   string // "" when off

	Listen string
	TLS    *haproxyTLS
	HSTS   int64
	CDN    *haproxyCDN
	// ClientAddr is the sample that yields the client's address: src, or
	// behind a CDN the variable set from its header.
	ClientAddr string
	ClientVar  bool
	Limits     haproxyLimits

	Balance       string
	CheckInterval string
	Servers       []haproxyServer
	DB            *haproxyDB
}

// haproxyDB are the database endpoints of a stack with replicas.
type haproxyDB struct {
	WriteName, ReadName     string
	WriteListen, ReadListen string
	Nodes                   []haproxyDBNode
}

type haproxyDBNode struct {
	Name    string
	Addr    string
	Primary bool
}

type haproxyNames struct {
	Frontend, Backend                              string
	RefuseList, RefuseConn, RefuseRate, RefuseSize string
	ToHTTPS                                        string
}

type haproxyTLS struct {
	Listen   string
	Cert     string
	Redirect bool
	Port     string // ":8443" in redirects; "" for 443
}

type haproxyCDN struct {
	Trusted string // space-separated CIDRs
	Header  string
}

type haproxyLimits struct {
	Allow, Deny string // space-separated addresses and CIDRs
	// ListCond is the condition under which the allow and deny lists refuse
	// a request; "" without lists.
	ListCond    string
	Connections int
	Rate        *haproxyRate
	MaxBody     int64 // bytes; 0: no limit
}

// haproxyRate expresses a rate with a burst as a sliding window: a client
// may make Max requests in any Window. Max is rate+burst and Window is
// Max/rate seconds, so a client that keeps to the rate never meets the
// limit, and one that has been quiet may send rate+burst at once.
type haproxyRate struct {
	Max    int
	Window string
	Expire string
}

type haproxyServer struct {
	Name   string
	Socket string
}

// The database endpoints' names in HAProxy, which the failover controller
// drives through the runtime API.
const (
	DBWriteBackend = "db-write"
	DBReadBackend  = "db-read"
)

// HAProxy renders the config of the load balancer in front of the web
// instances.
func HAProxy(st *stack.Stack, env Env, inst stack.Instance) (map[string][]byte, error) {
	if st.LB == nil {
		return nil, errors.New("the stack has no lb section")
	}
	l := st.Limits
	d := haproxyData{
		Names: haproxyNames{
			Frontend: haproxy.Frontend, Backend: haproxy.Backend,
			RefuseList: haproxy.RefuseList, RefuseConn: haproxy.RefuseConn,
			RefuseRate: haproxy.RefuseRate, RefuseSize: haproxy.RefuseSize,
			ToHTTPS: haproxy.ToHTTPS,
		},
		Pidfile:       env.Pidfile(inst),
		User:          env.LBUser,
		MaxConn:       st.LB.MaxConn,
		AdminSocket:   env.LBSocket(inst.Index),
		StateFile:     env.LBStateFile(inst.Index),
		ClientTimeout: "30s",
		HeaderTimeout: haTime(l.HeaderTimeout.Duration),
		BodyTimeout:   haTime(l.BodyTimeout.Duration),
		Listen:        st.Web.Listen.String(),
		ClientAddr:    "src",
		Balance:       st.LB.Balance,
		CheckInterval: haTime(st.LB.CheckInterval.Duration),
	}
	// The client timeout is the silence allowed in the middle of a
	// request or a response: as long as the body may take.
	if d.BodyTimeout != "" {
		d.ClientTimeout = d.BodyTimeout
	}
	if t := st.TLS; t != nil {
		if env.Secrets == "" {
			return nil, errors.New("tls needs a private directory for the certificate, and the target gives none")
		}
		d.TLS = &haproxyTLS{
			Listen:   t.Listen.String(),
			Cert:     env.SecretFile(TLSFile),
			Redirect: t.Redirect != nil && *t.Redirect,
		}
		if p := t.Listen.Port(); p != 443 {
			d.TLS.Port = ":" + strconv.Itoa(int(p))
		}
		d.HSTS = t.HSTS.Seconds()
	}
	hasLimits := len(l.Allow) > 0 || len(l.Deny) > 0 || l.Rate > 0
	if c := st.Web.CDN; c != nil {
		if !headerName.MatchString(c.ClientIPHeader) {
			return nil, fmt.Errorf("web.cdn.client_ip_header: %q is not an HTTP header name", c.ClientIPHeader)
		}
		d.CDN = &haproxyCDN{Trusted: strings.Join(c.Trusted, " "), Header: c.ClientIPHeader}
		if hasLimits {
			d.ClientAddr, d.ClientVar = "var(txn.trio_client)", true
		}
	}
	d.Limits = haproxyLimits{
		Allow:       strings.Join(l.Allow, " "),
		Deny:        strings.Join(l.Deny, " "),
		Connections: l.Connections,
	}
	switch {
	case len(l.Allow) > 0 && len(l.Deny) > 0:
		d.Limits.ListCond = "!trio_allowed || trio_denied"
	case len(l.Allow) > 0:
		d.Limits.ListCond = "!trio_allowed"
	case len(l.Deny) > 0:
		d.Limits.ListCond = "trio_denied"
	}
	if l.Rate > 0 {
		n := l.Rate + l.Burst
		window := time.Duration(n) * time.Second / time.Duration(l.Rate)
		d.Limits.Rate = &haproxyRate{
			Max:    n,
			Window: haTime(window.Round(time.Millisecond)),
			// An entry must outlive its window, or a client's count would
			// start again from nothing.
			Expire: haTime(max(2*window, 10*time.Second).Round(time.Second)),
		}
	}
	if st.DB.Replicas > 0 {
		db := &haproxyDB{
			WriteName: DBWriteBackend, ReadName: DBReadBackend,
			WriteListen: fmt.Sprintf("127.0.0.1:%d", st.DB.Port),
			ReadListen:  fmt.Sprintf("127.0.0.1:%d", st.DB.ReadPort),
		}
		for i := 0; i < st.Replicas(stack.TierDB); i++ {
			db.Nodes = append(db.Nodes, haproxyDBNode{
				Name:    stack.Instance{Tier: stack.TierDB, Index: i}.String(),
				Addr:    fmt.Sprintf("127.0.0.1:%d", st.DBInstancePort(i)),
				Primary: i == env.DBPrimary,
			})
		}
		d.DB = db
	}
	size, err := byteSize(st.Web.MaxBodySize)
	if err != nil {
		return nil, fmt.Errorf("web.max_body_size: %w", err)
	}
	d.Limits.MaxBody = size
	for i := 0; i < st.Replicas(stack.TierWeb); i++ {
		d.Servers = append(d.Servers, haproxyServer{
			Name:   stack.Instance{Tier: stack.TierWeb, Index: i}.String(),
			Socket: env.WebSocket(i),
		})
	}
	cfg, err := execute("haproxy.cfg.tmpl", d)
	if err != nil {
		return nil, fmt.Errorf("haproxy.cfg: %w", err)
	}
	return map[string][]byte{"haproxy.cfg": cfg}, nil
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// haTime writes a duration as HAProxy reads it; "" for zero (off).
func haTime(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(max(1, int64(d/time.Millisecond)), 10) + "ms"
}

// byteSize reads a size as nginx's client_max_body_size takes it (8m,
// 512k, 1g; binary units); 0 means no limit.
func byteSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 8m", s)
	}
	return n * mult, nil
}
