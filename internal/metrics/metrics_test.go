package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerServesNamedMetricsAndHealth(t *testing.T) {
	m := New()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 {
		t.Fatalf("healthz before ready = %d, want 503", resp.StatusCode)
	}
	// Liveness does not depend on readiness (nor on partitions, nor on stuck ones).
	m.SetStuck(4, 10, true, context.DeadlineExceeded)
	if resp, err := srv.Client().Get(srv.URL + "/livez"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("livez while not ready and stuck = %v %v, want 200", resp, err)
	}
	m.SetStuck(4, 10, false, nil)
	m.SetReady(true)
	m.ObserveBatch(3, 300, 1000, 40*time.Millisecond)
	m.ObserveBatch(1, 100, 1000, 40*time.Millisecond)
	m.SetLag(map[int]int64{0: 5, 3: 7})
	m.Partitions.Add(2)
	m.Chunks.WithLabelValues("protein").Add(2)
	resp, _ = srv.Client().Get(srv.URL + "/healthz")
	if resp.StatusCode != 200 {
		t.Fatalf("healthz when ready = %d", resp.StatusCode)
	}
	resp, err = srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"nerstream_slot_utilization_ratio 0.2",
		"nerstream_windows_total 4",
		`nerstream_consumer_lag_records{partition="3"} 7`,
		`nerstream_chunks_total{label="protein"} 2`,
		"nerstream_batch_duration_seconds_count 2",
		"nerstream_assigned_partitions 2",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestScrapeSumsFamilies(t *testing.T) {
	m := New()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	m.ObserveBatch(3, 300, 1000, 40*time.Millisecond)
	m.SetLag(map[int]int64{0: 5, 3: 7})
	m.Docs.WithLabelValues("upsert").Add(4)
	m.Docs.WithLabelValues("delete").Add(1)
	s, err := Scrape(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{NameLag: 12, NameDocuments: 5, NameWindows: 3, NameBatchSeconds: 1, NamePartitions: 0} {
		got, ok := s[name]
		if !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, err := Scrape(context.Background(), "127.0.0.1:1"); err == nil {
		t.Error("scrape of a closed port succeeded")
	}
}
