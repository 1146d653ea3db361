package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthURL(t *testing.T) {
	tests := []struct {
		addr, want string
		wantErr    bool
	}{
		{addr: "", want: "http://127.0.0.1:9090/healthz"},
		{addr: ":9091", want: "http://127.0.0.1:9091/healthz"},
		{addr: "0.0.0.0:8080", want: "http://127.0.0.1:8080/healthz"},
		{addr: "[::]:8080", want: "http://127.0.0.1:8080/healthz"},
		{addr: "10.1.2.3:9090", want: "http://10.1.2.3:9090/healthz"},
		{addr: "[fd00::1]:9090", want: "http://[fd00::1]:9090/healthz"},
		{addr: "9090", wantErr: true},
		{addr: "host:", wantErr: true},
	}
	for _, tt := range tests {
		got, err := healthURL(tt.addr)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), tt.addr) {
				t.Errorf("healthURL(%q) = %q, %v; want an error naming the input", tt.addr, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusOK)
		case "/draining":
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	tests := []struct {
		path    string
		wantErr string
	}{
		{path: "/healthz"},
		{path: "/draining", wantErr: "503"},
		{path: "/missing", wantErr: "404"},
	}
	for _, tt := range tests {
		err := check(context.Background(), srv.Client(), srv.URL+tt.path)
		if tt.wantErr == "" && err != nil {
			t.Errorf("check(%s) = %v, want nil", tt.path, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("check(%s) = %v, want error containing %q", tt.path, err, tt.wantErr)
		}
	}
}

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	env := func(k string) string {
		if k == "NERSTREAM_METRICS_ADDR" {
			return addr
		}
		return ""
	}
	if err := run(nil, env); err != nil {
		t.Errorf("run with NERSTREAM_METRICS_ADDR=%s: %v", addr, err)
	}
	if err := run([]string{srv.URL + "/healthz"}, env); err != nil {
		t.Errorf("run with explicit URL: %v", err)
	}
	if err := run([]string{"a", "b"}, env); err == nil {
		t.Error("run with two arguments: want error")
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	if err := run([]string{closedURL + "/healthz"}, env); err == nil {
		t.Error("run against a closed server: want error")
	}
}

func FuzzHealthURL(f *testing.F) {
	for _, s := range []string{"", ":9090", "0.0.0.0:1", "[::]:2", "x", "[", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		u, err := healthURL(addr)
		if err == nil && !strings.HasSuffix(u, "/healthz") {
			t.Fatalf("healthURL(%q) = %q without /healthz", addr, u)
		}
	})
}
