package queue

import (
	"bytes"
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
