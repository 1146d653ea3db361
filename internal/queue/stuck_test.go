package queue

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestPartitionFailingEveryFetchIsReportedStuckOnceThenRecovered(t *testing.T) {
	var logs bytes.Buffer
	type call struct {
		p     int
		off   int64
		stuck bool
	}
	var calls []call
	g, err := NewGroup([]string{"127.0.0.1:1"}, "docs", "g", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithStuckReporter(30*time.Millisecond, func(p int, off int64, stuck bool, _ error) { calls = append(calls, call{p, off, stuck}) }))
	if err != nil {
		t.Fatal(err)
	}
	var f failureRun
	corrupt := errors.New("CORRUPT_MESSAGE")
	g.failed(&f, 3, 42, corrupt)
	if len(calls) != 0 {
		t.Fatal("reported stuck before the threshold")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(calls) == 0 && time.Now().Before(deadline) {
		g.failed(&f, 3, 42, corrupt) // the fetch loop retries every backoff
		time.Sleep(5 * time.Millisecond)
	}
	g.failed(&f, 3, 42, corrupt)
	if len(calls) != 1 || calls[0] != (call{3, 42, true}) {
		t.Fatalf("calls %v, want one stuck report for partition 3 at 42", calls)
	}
	if n := strings.Count(logs.String(), "PARTITION STUCK"); n != 1 || !strings.Contains(logs.String(), "CORRUPT_MESSAGE") {
		t.Fatalf("%d PARTITION STUCK lines:\n%s", n, logs.String())
	}
	g.progressed(&f, 3, 43)
	if len(calls) != 2 || calls[1] != (call{3, 43, false}) {
		t.Fatalf("calls %v, want a recovery report", calls)
	}
}

// TestFailingPartitionLogsOnceAMinuteAndBacksOff: a partition whose fetches
// keep failing logs its first failure, then at most one line a minute with
// the count in between (not one line per retry, twice a second, forever);
// its retries back off exponentially to maxRetryBackoff; a success resets
// both. The stuck report is unchanged.
func TestFailingPartitionLogsOnceAMinuteAndBacksOff(t *testing.T) {
	var logs bytes.Buffer
	g, err := NewGroup([]string{"127.0.0.1:1"}, "docs", "g", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithRetryBackoff(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var f failureRun
	down := errors.New("connection refused")
	var pauses []time.Duration
	for range 200 {
		pauses = append(pauses, g.retryAfter(&f, "fetch failed", 3, 42, down))
	}
	if n := strings.Count(logs.String(), "fetch failed; retrying"); n != 1 {
		t.Fatalf("200 failures in a row logged %d lines, want 1:\n%s", n, logs.String())
	}
	if pauses[0] < 80*time.Millisecond || pauses[0] > 120*time.Millisecond {
		t.Errorf("first pause %v, want the retry backoff 100ms ± 20%%", pauses[0])
	}
	for i, p := range pauses[10:] {
		if p < maxRetryBackoff*8/10 || p > maxRetryBackoff*12/10 {
			t.Fatalf("pause %d = %v, want the cap %v ± 20%%", i+10, p, maxRetryBackoff)
		}
	}
	f.logged = f.logged.Add(-failureLogEvery) // a minute of failures later
	g.retryAfter(&f, "fetch failed", 3, 42, down)
	if n := strings.Count(logs.String(), "fetch failed; retrying"); n != 2 || !strings.Contains(logs.String(), "failures_since_last_line=200") {
		t.Fatalf("after a minute: %d lines, want a second one counting 200 failures:\n%s", n, logs.String())
	}
	g.retryAfter(&f, "fetch failed", 3, 42, down)
	if n := strings.Count(logs.String(), "fetch failed; retrying"); n != 2 {
		t.Fatalf("a failure right after the minute's line was logged too (%d lines)", n)
	}
	g.progressed(&f, 3, 42)
	if p := g.retryAfter(&f, "fetch failed", 3, 42, down); p > 120*time.Millisecond || strings.Count(logs.String(), "fetch failed; retrying") != 3 {
		t.Fatalf("after a success: pause %v, log:\n%s", p, logs.String())
	}
}

// TestUnresolvableStartOffsetLogsOnce: a partition whose start offset
// cannot be resolved (brokers unreachable) retries with backoff and logs
// its first failure only, like a failing fetch.
func TestUnresolvableStartOffsetLogsOnce(t *testing.T) {
	var logs bytes.Buffer
	tried := make(chan struct{}, 100)
	g, err := NewGroup([]string{"127.0.0.1:1"}, "docs", "g", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithRetryBackoff(10*time.Millisecond), WithBrokerErrors(func(string) { tried <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := g.defaultStart(ctx, 0, -1); done <- err }()
	tries := 0
	for ; tries < 4; tries++ {
		select {
		case err := <-done:
			t.Fatalf("defaultStart returned %v against unreachable brokers", err)
		case <-tried:
		}
	}
	cancel()
	<-done
	if n := strings.Count(logs.String(), "resolving start offset failed; retrying"); n != 1 {
		t.Fatalf("%d failed tries logged %d lines, want 1:\n%s", tries, n, logs.String())
	}
}
