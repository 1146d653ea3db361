package queue

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMissingTopicWaits: a group started before its topic exists waits for
// it (instead of kafka-go's tight rejoin loop) and then consumes it.
func TestMissingTopicWaits(t *testing.T) {
	brokers := startBroker(t)
	waiting := make(chan struct{})
	var once sync.Once
	log := slog.New(signalHandler{msg: "waiting for topic", fn: func() { once.Do(func() { close(waiting) }) }})
	g, err := NewGroup(brokers, "later", "m", fastGroup(WithLogger(log))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Ping before the topic exists: %v", err)
	}
	h := newRecHandler("m")
	runGroup(t, g, h)
	select { // the group reached its wait for the topic
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the group never reported waiting for the topic")
	}
	if n := len(h.assignCalls()); n != 0 {
		t.Fatalf("%d partitions assigned before the topic exists", n)
	}
	pub, err := NewPublisher(context.Background(), brokers, "later", WithPartitions(2), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publishN(t, pub, 6, "m")
	waitFor(t, 10*time.Second, "records of the new topic", func() bool { return h.total() == 6 })
	if err := g.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// signalHandler is a slog.Handler that calls fn for every record whose
// message is msg, and drops all records.
type signalHandler struct {
	msg string
	fn  func()
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.fn()
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }
