package queue

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// TestGroupRequestsWaitForTheCoordinator: Apache Kafka answers the first
// group requests on a new cluster with NOT_COORDINATOR or
// COORDINATOR_LOAD_IN_PROGRESS while __consumer_offsets is created and
// loaded (a worker started on a fresh broker exited on it). ConsumedTopics
// (and the owner check, through the same retry) wait them out; kfake answers
// the first three DescribeGroups and OffsetFetch requests that way here.
func TestGroupRequestsWaitForTheCoordinator(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var describes, fetches atomic.Int32
	c.ControlKey(int16(kmsg.DescribeGroups), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if describes.Add(1) > 3 {
			return nil, nil, false
		}
		r := req.(*kmsg.DescribeGroupsRequest)
		resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, g := range r.Groups {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, kerr.NotCoordinator.Code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if fetches.Add(1) > 3 {
			return nil, nil, false
		}
		resp := req.(*kmsg.OffsetFetchRequest).ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return resp, nil, true
	})
	g, err := NewGroup(c.ListenAddrs(), "in", "fresh", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := g.ConsumedTopics(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("ConsumedTopics = %q, %v; want none, no error", got, err)
	}
	if describes.Load() != 4 || fetches.Load() != 4 {
		t.Fatalf("%d DescribeGroups and %d OffsetFetch requests: the refusals were not retried", describes.Load(), fetches.Load())
	}
}
