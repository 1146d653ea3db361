package queue

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/broker"
)

// TestConsumedTopics: the topics a group consumes are those its live members
// subscribe to and those it has committed offsets on; an unknown group
// consumes nothing.
func TestConsumedTopics(t *testing.T) {
	brokers := startBroker(t, broker.WithTopic("in", 1), broker.WithTopic("old", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The group once consumed "old" and committed there.
	pub, err := NewPublisher(ctx, brokers, "old", WithCreateTopic(false), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publishN(t, pub, 2, "old")
	old, err := NewGroup(brokers, "old", "g", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecHandler("old")
	h.commit = true
	stop := runGroup(t, old, h)
	waitFor(t, 15*time.Second, "two records on old", func() bool { return h.total() == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Now a member of the same group consumes "in".
	in, err := NewGroup(brokers, "in", "g", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	hi := newRecHandler("in")
	runGroup(t, in, hi)
	waitFor(t, 15*time.Second, "a partition of in", func() bool { return len(hi.activeParts()) == 1 })

	got, err := in.ConsumedTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"in", "old"}) {
		t.Fatalf("ConsumedTopics = %q, want [in old]", got)
	}
	other, err := NewGroup(brokers, "in", "nobody", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := other.ConsumedTopics(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ConsumedTopics of an unknown group = %q, %v; want none", got, err)
	}
}
