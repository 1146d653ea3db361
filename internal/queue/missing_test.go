package queue

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMissingTopicWaits: a group started before its topic exists waits for
// it (instead of kafka-go's tight rejoin loop) and then consumes it.
func TestMissingTopicWaits(t *testing.T) {
	brokers := startBroker(t)
	g, err := NewGroup(brokers, "later", "m", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Ping before the topic exists: %v", err)
	}
	h := newRecHandler("m")
	runGroup(t, g, h)
	time.Sleep(300 * time.Millisecond)
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
