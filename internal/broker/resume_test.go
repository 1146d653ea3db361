package broker_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/broker"
	"github.com/nerstream/nerstream/internal/queue"
)

type countHandler struct {
	mu        sync.Mutex
	committed []int64
	first     map[int]int64
	n         int
	acked     int // records whose commit the broker acknowledged
	assigned  chan struct{}
	once      sync.Once
}

func (h *countHandler) Assigned(ctx context.Context, _ queue.Partition, committed int64) (int64, error) {
	h.mu.Lock()
	h.committed = append(h.committed, committed)
	h.mu.Unlock()
	h.once.Do(func() { close(h.assigned) })
	return queue.UseDefault, nil
}

func (h *countHandler) Records(ctx context.Context, part queue.Partition, recs []queue.Record) error {
	p := part.ID()
	if len(recs) == 0 {
		return nil
	}
	h.mu.Lock()
	if _, ok := h.first[p]; !ok {
		h.first[p] = recs[0].Offset
	}
	h.n += len(recs)
	h.mu.Unlock()
	if err := part.Commit(ctx, recs[len(recs)-1].Offset+1); err != nil {
		return err
	}
	h.mu.Lock()
	h.acked += len(recs)
	h.mu.Unlock()
	return nil
}

func (h *countHandler) Revoked(queue.Partition) {}

// TestDemoResume mimics two `worker demo` runs over one data dir: the second
// run finds the records and resumes the group at its committed offsets,
// without waiting for the first run's vanished member. closeBrokerFirst
// covers a demo that stops the broker before the consumer.
func TestDemoResume(t *testing.T) {
	for _, closeBrokerFirst := range []bool{false, true} {
		name := "consumer stops first"
		if closeBrokerFirst {
			name = "broker stops first"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "kafka")
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			run := func(publish int) (*countHandler, time.Duration) {
				ctx := context.Background()
				b, err := broker.Start(ctx, broker.WithDataDir(dir), broker.WithGroupMinSessionTimeout(100*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				pub, err := queue.NewPublisher(ctx, b.Addrs(), "docs", queue.WithPartitions(2), queue.WithLogger(quiet))
				if err != nil {
					t.Fatal(err)
				}
				msgs := make([]queue.Message, publish)
				for i := range msgs {
					msgs[i] = queue.Message{Key: []byte{byte(i)}, Value: []byte("v")}
				}
				if err := pub.Publish(ctx, msgs...); err != nil {
					t.Fatal(err)
				}
				pub.Close()
				g, err := queue.NewGroup(b.Addrs(), "docs", "demo", queue.WithLogger(quiet),
					queue.WithSessionTimeout(2*time.Second), queue.WithHeartbeatInterval(100*time.Millisecond),
					queue.WithRebalanceTimeout(2*time.Second), queue.WithJoinGroupBackoff(100*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				h := &countHandler{first: map[int]int64{}, assigned: make(chan struct{})}
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- g.Run(rctx, h) }()
				var took time.Duration
				select {
				case <-h.assigned:
					took = time.Since(start)
				case <-time.After(20 * time.Second):
					t.Fatal("no assignment within 20s")
				}
				// Wait until every record is read and its commit acknowledged.
				deadline := time.Now().Add(10 * time.Second)
				for {
					h.mu.Lock()
					acked := h.acked
					h.mu.Unlock()
					if acked >= publish || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				if closeBrokerFirst {
					b.Close()
				}
				cancel()
				<-done
				return h, took
			}
			h1, _ := run(10)
			if h1.n != 10 {
				t.Fatalf("first run read %d records, want 10", h1.n)
			}
			h2, took := run(4)
			t.Logf("second run: first assignment after %v, committed offsets %v", took, h2.committed)
			if h2.n != 4 {
				t.Errorf("second run read %d records, want only the 4 new ones", h2.n)
			}
			if took > 5*time.Second {
				t.Errorf("second run waited %v for its first assignment", took)
			}
		})
	}
}
