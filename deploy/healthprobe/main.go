package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// defaultMetricsAddr is the worker's default --metrics-addr.
const defaultMetricsAddr = ":9090"

// probeTimeout bounds one probe; Docker's own healthcheck timeout should be
// larger than this.
const probeTimeout = 2 * time.Second

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "healthprobe:", err)
		os.Exit(1)
	}
}

// run probes the URL given in args, or the one derived from
// NERSTREAM_METRICS_ADDR read through getenv.
func run(args []string, getenv func(string) string) error {
	var target string
	switch len(args) {
	case 0:
		u, err := healthURL(getenv("NERSTREAM_METRICS_ADDR"))
		if err != nil {
			return err
		}
		target = u
	case 1:
		if args[0] == "-h" || args[0] == "--help" {
			return errors.New("usage: healthprobe [URL] (default from NERSTREAM_METRICS_ADDR)")
		}
		target = args[0]
	default:
		return fmt.Errorf("expected at most one URL, got %d arguments", len(args))
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	return check(ctx, http.DefaultClient, target)
}

// healthURL turns a listen address such as ":9090", "0.0.0.0:9090" or
// "[::]:9090" into the loopback URL of its /healthz endpoint. An empty
// address means the worker default.
func healthURL(addr string) (string, error) {
	if addr == "" {
		addr = defaultMetricsAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("parse NERSTREAM_METRICS_ADDR %q: %w", addr, err)
	}
	if port == "" {
		return "", fmt.Errorf("parse NERSTREAM_METRICS_ADDR %q: missing port", addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// check performs one GET and accepts any 2xx status.
func check(ctx context.Context, client *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", target, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: status %s: %s", target, resp.Status, body)
	}
	return nil
}
