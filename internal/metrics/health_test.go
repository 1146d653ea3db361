package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func healthz(t *testing.T, m *Metrics) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHealthzReportsStuckPartitionsAndNoPartitions(t *testing.T) {
	m := New()
	now := time.Unix(1000, 0)
	m.h.now = func() time.Time { return now }
	m.SetReady(true)
	m.Partitions.Set(2)
	if code, _ := healthz(t, m); code != 200 {
		t.Fatalf("healthy worker: %d", code)
	}
	m.SetStuck(3, 42, true, errors.New("corrupt record batch"))
	code, body := healthz(t, m)
	if code != 503 || !strings.Contains(body, "partition 3 stuck at offset 42: corrupt record batch") {
		t.Fatalf("stuck partition: %d %q, want 503 naming it", code, body)
	}
	if testutil.ToFloat64(m.PartitionStuck.WithLabelValues("3")) != 1 {
		t.Fatal("nerstream_partition_stuck{partition=3} is not 1")
	}
	m.SetStuck(3, 43, false, nil)
	if code, _ := healthz(t, m); code != 200 || testutil.ToFloat64(m.PartitionStuck.WithLabelValues("3")) != 0 {
		t.Fatalf("recovered: %d", code)
	}
	// No partition: healthy within the grace period, then 503.
	m.Partitions.Set(0)
	if code, _ := healthz(t, m); code != 200 {
		t.Fatalf("zero partitions within grace: %d", code)
	}
	now = now.Add(DefaultNoPartitionsGrace)
	if code, body := healthz(t, m); code != 503 || !strings.Contains(body, "no partition assigned") {
		t.Fatalf("zero partitions past grace: %d %q", code, body)
	}
	m.Partitions.Set(1)
	if code, _ := healthz(t, m); code != 200 {
		t.Fatalf("partition assigned again: %d", code)
	}
}
