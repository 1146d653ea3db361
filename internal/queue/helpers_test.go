package queue

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/broker"
)

// quietLogger keeps test output readable; set QUEUE_TEST_LOG=1 style
// debugging by swapping in slog.Default().
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func startBroker(t *testing.T, opts ...broker.Option) []string {
	t.Helper()
	opts = append([]broker.Option{broker.WithGroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	b, err := broker.Start(context.Background(), opts...)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b.Addrs()
}

// fastGroup returns group options for quick rebalances against kfake.
func fastGroup(extra ...GroupOption) []GroupOption {
	return append([]GroupOption{
		WithSessionTimeout(1500 * time.Millisecond),
		WithHeartbeatInterval(100 * time.Millisecond),
		WithRebalanceTimeout(3 * time.Second),
		WithJoinGroupBackoff(100 * time.Millisecond),
		WithFetchMaxWait(100 * time.Millisecond),
		WithRetryBackoff(50 * time.Millisecond),
		WithLogger(quietLogger),
	}, extra...)
}

type assignCall struct {
	partition int
	committed int64
}

// recHandler records every call. It optionally commits after each batch.
type recHandler struct {
	name   string
	commit bool
	start  func(partition int, committed int64) int64 // nil: UseDefault
	fail   error                                      // returned from Records when set

	mu       sync.Mutex
	assigned []assignCall
	revoked  []int
	recs     map[int][]Record
	idle     map[int]int
	idleAt   map[int][]time.Time // when each idle call arrived
	active   map[int]bool
	calls    []int // records per non-empty Records call
}

func newRecHandler(name string) *recHandler {
	return &recHandler{name: name, recs: map[int][]Record{}, idle: map[int]int{}, idleAt: map[int][]time.Time{}, active: map[int]bool{}}
}

func (h *recHandler) Assigned(ctx context.Context, p Partition, committed int64) (int64, error) {
	partition := p.ID()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.active[partition] {
		return 0, fmt.Errorf("%s: partition %d assigned twice without revoke", h.name, partition)
	}
	h.active[partition] = true
	h.assigned = append(h.assigned, assignCall{partition, committed})
	if h.start != nil {
		return h.start(partition, committed), nil
	}
	return UseDefault, nil
}

func (h *recHandler) Records(ctx context.Context, p Partition, recs []Record) error {
	partition := p.ID()
	h.mu.Lock()
	if h.fail != nil {
		h.mu.Unlock()
		return h.fail
	}
	if len(recs) == 0 {
		h.idle[partition]++
		h.idleAt[partition] = append(h.idleAt[partition], time.Now())
	}
	h.recs[partition] = append(h.recs[partition], recs...)
	if len(recs) > 0 {
		h.calls = append(h.calls, len(recs))
	}
	h.mu.Unlock()
	if h.commit && len(recs) > 0 {
		if err := p.Commit(ctx, recs[len(recs)-1].Offset+1); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

func (h *recHandler) Revoked(p Partition) {
	partition := p.ID()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active[partition] = false
	h.revoked = append(h.revoked, partition)
}

func (h *recHandler) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		n += len(r)
	}
	return n
}

func (h *recHandler) activeParts() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int
	for p, ok := range h.active {
		if ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (h *recHandler) assignCalls() []assignCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.assigned)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runGroup starts g.Run in the background and returns a stop function that
// cancels it and returns Run's error.
func runGroup(t *testing.T, g *Group, h Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				err = fmt.Errorf("Run did not return within 15s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func publishN(t *testing.T, p *Publisher, n int, prefix string) {
	t.Helper()
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{
			Key:     []byte(fmt.Sprintf("%s-key-%d", prefix, i)),
			Value:   []byte(fmt.Sprintf("%s-value-%d", prefix, i)),
			Headers: map[string]string{"i": fmt.Sprint(i)},
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, msgs...); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
