// Command edgeload floods a URL from one client address at a fixed rate
// while a second, well-behaved client asks at a low rate from another
// address, and reports how each fared. It measures what rate limits do to
// the innocent.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

type tally struct {
	ok, limited, other, errors atomic.Int64
}

func (t *tally) String() string {
	total := t.ok.Load() + t.limited.Load() + t.other.Load() + t.errors.Load()
	return fmt.Sprintf("requests=%d ok=%d limited_429=%d other=%d errors=%d success=%.2f%%",
		total, t.ok.Load(), t.limited.Load(), t.other.Load(), t.errors.Load(), 100*float64(t.ok.Load())/float64(max(total, 1)))
}

func client(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:         func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) },
		MaxIdleConnsPerHost: 64,
	}}
}

// drive sends requests at rate per second until ctx ends.
func drive(ctx context.Context, c *http.Client, url string, rate int, t *tally) {
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(url)
			if err != nil {
				t.errors.Add(1)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				t.ok.Add(1)
			case http.StatusTooManyRequests:
				t.limited.Add(1)
			default:
				t.other.Add(1)
			}
		}()
	}
}

func main() {
	url := flag.String("url", "", "the URL to ask")
	floodRate := flag.Int("flood-rate", 500, "requests per second from the flooding client")
	floodIP := flag.String("flood-from", "127.0.0.1", "the flooding client's address")
	politeRate := flag.Int("polite-rate", 5, "requests per second from the well-behaved client")
	politeIP := flag.String("polite-from", "127.0.0.2", "the well-behaved client's address")
	duration := flag.Duration("d", 20*time.Second, "how long")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "edgeload: -url is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var flood, polite tally
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); drive(ctx, client(*floodIP), *url, *floodRate, &flood) }()
	go func() { defer wg.Done(); drive(ctx, client(*politeIP), *url, *politeRate, &polite) }()
	wg.Wait()
	fmt.Printf("flood  %s/s from %s: %s\n", fmt.Sprint(*floodRate), *floodIP, &flood)
	fmt.Printf("polite %s/s from %s: %s\n", fmt.Sprint(*politeRate), *politeIP, &polite)
}
