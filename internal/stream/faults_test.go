package stream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/queue/queuetest"
	"github.com/nerstream/nerstream/internal/sink"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// brokenStore fails every upload after the first n (a bucket that went away).
type brokenStore struct {
	*memStore
	ok int
	mu sync.Mutex
}

var errBucketGone = errors.New("503 SlowDown (after 6 attempts)")

func (s *brokenStore) Upload(ctx context.Context, k sink.Key, rows []sink.Row) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok == 0 {
		return errBucketGone
	}
	s.ok--
	return s.memStore.Upload(ctx, k, rows)
}

func TestUploadThatNeverSucceedsStopsWithoutCommittingPastIt(t *testing.T) {
	recs := records(t, 0, 6, time.UnixMilli(1_700_000_000_000))
	st := &brokenStore{memStore: newMemStore(), ok: 1}
	var logs bytes.Buffer
	var logMu sync.Mutex
	m := metrics.New()
	w, err := New(Config{Topic: "docs", ModelName: "tiny", ModelVersion: "abc", ModelDir: "tiny-abc", FlushRecords: 2, FlushInterval: time.Hour},
		fakeAnnotator{}, st, &memDLQ{}, m, slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	part := queuetest.NewPartition("docs", 0)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := w.Assigned(ctx, part, queue.NoCommit); err != nil {
		t.Fatal(err)
	}
	go func() { w.Records(ctx, part, recs) }() // blocks once the pipeline stops
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(time.Minute):
		t.Fatal("worker did not stop on a permanent upload failure")
	}
	cancel()
	w.Stop()
	if !errors.Is(runErr, errBucketGone) {
		t.Fatalf("Run = %v, want the upload error", runErr)
	}
	if commits := part.Commits(); len(commits) != 1 || commits[0] != 2 {
		t.Fatalf("commits %v, want only [2] (the one stored file)", commits)
	}
	if last, ok, _ := st.LastOffset(ctx, "tiny-abc", "docs", 0); !ok || last != 1 {
		t.Fatalf("stored up to %d, want 1", last)
	}
	if testutil.ToFloat64(m.PartitionsStopped) != 1 || testutil.ToFloat64(m.UploadErrors) != 1 {
		t.Fatalf("partitions_stopped %v, upload_errors %v; want 1 and 1", testutil.ToFloat64(m.PartitionsStopped), testutil.ToFloat64(m.UploadErrors))
	}
	logMu.Lock()
	defer logMu.Unlock()
	if n := strings.Count(logs.String(), "PARTITION STOPPED"); n != 1 {
		t.Fatalf("%d alert lines, want exactly 1:\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
