// Package fcgi is a minimal FastCGI client: enough to send one request
// straight to a PHP-FPM pool, as a health check of an app instance or of a
// release that takes no traffic yet.
package fcgi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Record types and roles of the FastCGI 1.0 protocol.
const (
	version1       = 1
	typeBeginReq   = 1
	typeEndRequest = 3
	typeParams     = 4
	typeStdin      = 5
	typeStdout     = 6
	typeStderr     = 7
	roleResponder  = 1
	requestID      = 1
	maxContent     = 65535
)

// Response is what the application answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Stderr string // what PHP wrote to its error stream for this request
}

// Get sends a GET for path to the FastCGI server at network/address with
// the given CGI parameters on top of the usual ones, and reads the whole
// answer.
func Get(ctx context.Context, network, address, path string, params map[string]string) (*Response, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("fastcgi %s: %w", address, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	uri, query, _ := strings.Cut(path, "?")
	all := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_SOFTWARE":   "trio",
		"REQUEST_METHOD":    "GET",
		"REQUEST_URI":       path,
		"DOCUMENT_URI":      uri,
		"QUERY_STRING":      query,
		"REMOTE_ADDR":       "127.0.0.1",
		"SERVER_NAME":       "localhost",
		"SERVER_PORT":       "80",
		"HTTP_HOST":         "localhost",
		"CONTENT_LENGTH":    "0",
	}
	for k, v := range params {
		all[k] = v
	}
	var req bytes.Buffer
	writeRecord(&req, typeBeginReq, []byte{0, roleResponder, 0, 0, 0, 0, 0, 0})
	writeRecord(&req, typeParams, encodeParams(all))
	writeRecord(&req, typeParams, nil)
	writeRecord(&req, typeStdin, nil)
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, fmt.Errorf("fastcgi %s: %w", address, err)
	}
	var stdout, stderr bytes.Buffer
	r := bufio.NewReader(conn)
	for {
		typ, content, err := readRecord(r)
		if err != nil {
			return nil, fmt.Errorf("fastcgi %s: %w", address, err)
		}
		switch typ {
		case typeStdout:
			stdout.Write(content)
		case typeStderr:
			stderr.Write(content)
		case typeEndRequest:
			resp, err := parseCGI(stdout.Bytes())
			if err != nil {
				return nil, fmt.Errorf("fastcgi %s: %w", address, err)
			}
			resp.Stderr = stderr.String()
			return resp, nil
		}
	}
}

func writeRecord(w *bytes.Buffer, typ byte, content []byte) {
	for {
		n := min(len(content), maxContent)
		pad := (8 - n%8) % 8
		w.Write([]byte{version1, typ, 0, requestID, byte(n >> 8), byte(n), byte(pad), 0})
		w.Write(content[:n])
		w.Write(make([]byte, pad))
		content = content[n:]
		if len(content) == 0 {
			return
		}
	}
}

func readRecord(r *bufio.Reader) (byte, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0] != version1 {
		return 0, nil, fmt.Errorf("unexpected FastCGI version %d", h[0])
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	buf := make([]byte, n+int(h[6]))
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return h[1], buf[:n], nil
}

// encodeParams writes name-value pairs with FastCGI's length prefixes.
func encodeParams(params map[string]string) []byte {
	var b bytes.Buffer
	writeLen := func(n int) {
		if n < 128 {
			b.WriteByte(byte(n))
			return
		}
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(n)|1<<31)
		b.Write(l[:])
	}
	for k, v := range params {
		writeLen(len(k))
		writeLen(len(v))
		b.WriteString(k)
		b.WriteString(v)
	}
	return b.Bytes()
}

// parseCGI splits a CGI response into status, headers and body.
func parseCGI(out []byte) (*Response, error) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(out)))
	mh, err := tp.ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bad CGI response: %w", err)
	}
	resp := &Response{Status: http.StatusOK, Header: http.Header(mh)}
	if s := mh.Get("Status"); s != "" {
		code, err := strconv.Atoi(strings.Fields(s)[0])
		if err != nil {
			return nil, fmt.Errorf("bad CGI status %q", s)
		}
		resp.Status = code
	}
	body, _ := io.ReadAll(tp.R)
	resp.Body = body
	return resp, nil
}
