package host

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trio-stack/trio/internal/stack"
)

// tlsPEMName is the private file HAProxy reads: certificate chain then key.
const tlsPEMName = "tls.pem"

// selfSignedOrg marks the certificates trio makes, so it reuses its own
// and never mistakes a real one for it.
const selfSignedOrg = "trio self-signed"

// tlsPEM returns the certificate and key HAProxy serves: from files or the
// vault, or a self-signed pair for development that is kept while valid.
func (h *Host) tlsPEM(st *stack.Stack) ([]byte, error) {
	t := st.TLS
	if t == nil {
		return nil, nil
	}
	if t.SelfSigned {
		if cur, err := os.ReadFile(filepath.Join(h.layout.Secrets, tlsPEMName)); err == nil && reusableSelfSigned(cur, st) {
			return cur, nil
		}
		return selfSigned(st)
	}
	cert, err := h.pemValue(st, "tls.cert", t.Cert)
	if err != nil {
		return nil, err
	}
	key, err := h.pemValue(st, "tls.key", t.Key)
	if err != nil {
		return nil, err
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return nil, fmt.Errorf("%s: tls.cert and tls.key do not make a pair: %w", st.Pos("tls.cert"), err)
	}
	return append(append(bytes.TrimSpace(cert), '\n'), append(bytes.TrimSpace(key), '\n')...), nil
}

// pemValue reads a PEM from a file named in trio.yaml or from the vault.
func (h *Host) pemValue(st *stack.Stack, key string, v stack.Value) ([]byte, error) {
	if v.IsSecret() {
		s, err := h.resolve(v)
		return []byte(s), err
	}
	b, err := os.ReadFile(st.Path(v.Plain))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", st.Pos(key), key, err)
	}
	return b, nil
}

// reusableSelfSigned reports whether pemData is a pair trio made for this
// stack that is valid for another month.
func reusableSelfSigned(pemData []byte, st *stack.Stack) bool {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || len(cert.Subject.Organization) == 0 || cert.Subject.Organization[0] != selfSignedOrg {
		return false
	}
	if time.Until(cert.NotAfter) < 30*24*time.Hour {
		return false
	}
	names := certNames(st)
	for _, n := range names {
		if cert.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// certNames are the names and addresses a development certificate covers.
func certNames(st *stack.Stack) []string {
	names := []string{"localhost", "127.0.0.1"}
	if sn := st.Web.ServerName; sn != "_" && sn != "" {
		for _, n := range strings.Fields(sn) {
			if !strings.ContainsAny(n, "*~") {
				names = append(names, n)
			}
		}
	}
	if ip := st.TLS.Listen.Addr(); !ip.IsUnspecified() {
		names = append(names, ip.String())
	}
	return names
}

// selfSigned makes an ECDSA P-256 certificate for a year.
func selfSigned(st *stack.Stack) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: st.Name, Organization: []string{selfSignedOrg}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range certNames(st) {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&b, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return b.Bytes(), nil
}
