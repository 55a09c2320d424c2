package stack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Value is a setting that is either written in trio.yaml or named as a
// secret kept in the vault. Secrets are resolved late, only by the steps
// that need them, so that planning works without the vault password.
type Value struct {
	Plain  string // the value written in trio.yaml
	Secret string // the vault key holding the value
	Pos    Pos
}

// IsSet reports whether the value was given at all.
func (v Value) IsSet() bool { return v.Plain != "" || v.Secret != "" }

// IsSecret reports whether the value comes from the vault.
func (v Value) IsSecret() bool { return v.Secret != "" }

// String never shows a plain value: values may be credentials.
func (v Value) String() string {
	switch {
	case v.Secret != "":
		return "{secret: " + v.Secret + "}"
	case v.Plain != "":
		return "(plain value)"
	}
	return "(unset)"
}

func (v *Value) decodeNode(d *decoder, n *yaml.Node, path string) error {
	v.Pos = d.at(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		if n.Tag == "!vault" {
			return errors.New("inline !vault values are not read here; put the value in the vault file named by secrets.vault and write {secret: NAME}")
		}
		v.Plain = n.Value
		return nil
	case yaml.MappingNode:
		if len(n.Content) != 2 || n.Content[0].Value != "secret" || n.Content[1].Kind != yaml.ScalarNode || n.Content[1].Value == "" {
			return errors.New("expected a plain value or {secret: NAME}")
		}
		name := n.Content[1].Value
		if !validSecretName(name) {
			return fmt.Errorf("secret name %q may hold only letters, digits, '_', '-' and '.'", name)
		}
		v.Secret = name
		return nil
	}
	return fmt.Errorf("expected a plain value or {secret: NAME}, found %s", describe(n))
}

func validSecretName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// Addr is a host:port address to listen on.
type Addr struct {
	netip.AddrPort
}

// ParseAddr reads "host:port"; the host must be an IP address so that what
// trio binds is never a matter of name resolution.
func ParseAddr(s string) (Addr, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Addr{}, fmt.Errorf("%q is not host:port; write it like 127.0.0.1:8080", s)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return Addr{}, fmt.Errorf("%q: the host must be an IP address such as 127.0.0.1 or 0.0.0.0", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return Addr{}, fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
	}
	return Addr{netip.AddrPortFrom(ip, uint16(p))}, nil
}

// Loopback reports whether the address is reachable only from this host.
func (a Addr) Loopback() bool { return a.Addr().IsLoopback() }

func (a *Addr) decodeNode(d *decoder, n *yaml.Node, path string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected host:port, found %s", describe(n))
	}
	v, err := ParseAddr(n.Value)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalText writes the address back as host:port.
func (a Addr) MarshalText() ([]byte, error) { return []byte(a.String()), nil }
