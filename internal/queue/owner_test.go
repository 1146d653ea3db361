package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestOwnerGuardsCommittedOffsets: offsets committed without an owner are
// taken over by the first owner; its own restart resumes at its commits;
// a member with another owner is refused by Ping and by Run, with both
// owners named, before its handler sees a partition.
func TestOwnerGuardsCommittedOffsets(t *testing.T) {
	brokers := startBroker(t)
	ctx := context.Background()
	pub, err := NewPublisher(ctx, brokers, "owned", WithPartitions(2), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	const ownerA, ownerB = "model a version 1111", "model b version 2222"

	// consume runs one member until it has received want records and
	// idled on both partitions (so its commits are done), and returns the
	// committed offsets it was assigned with.
	consume := func(name, owner string, want int) int64 {
		t.Helper()
		g, err := NewGroup(brokers, "owned", "shared", fastGroup(WithOwner(owner), WithIdleInterval(150*time.Millisecond))...)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Ping(ctx); err != nil {
			t.Fatalf("%s: Ping: %v", name, err)
		}
		h := newRecHandler(name)
		h.commit = true
		stop := runGroup(t, g, h)
		waitFor(t, 20*time.Second, name+": records and an idle call per partition", func() bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.idle[0] > 0 && h.idle[1] > 0 && len(h.recs[0])+len(h.recs[1]) >= want
		})
		if err := stop(); err != nil {
			t.Fatalf("%s: Run: %v", name, err)
		}
		if got := h.total(); got != want {
			t.Fatalf("%s: got %d records, want %d", name, got, want)
		}
		var committed int64
		for _, a := range h.assignCalls() {
			committed += max(a.committed, 0)
		}
		return committed
	}

	publishN(t, pub, 10, "a")
	if c := consume("legacy", "", 10); c != 0 {
		t.Fatalf("legacy member started at committed offsets summing to %d, want none", c)
	}
	publishN(t, pub, 6, "b")
	if c := consume("owner a takes over", ownerA, 6); c != 10 {
		t.Fatalf("owner a resumed at committed offsets summing to %d, want the legacy member's 10", c)
	}
	publishN(t, pub, 4, "c")
	if c := consume("owner a restarts", ownerA, 4); c != 16 {
		t.Fatalf("owner a restarted at committed offsets summing to %d, want its own 16", c)
	}

	g, err := NewGroup(brokers, "owned", "shared", fastGroup(WithOwner(ownerB))...)
	if err != nil {
		t.Fatal(err)
	}
	wantErr := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrForeignOwner) || !strings.Contains(err.Error(), ownerA) || !strings.Contains(err.Error(), ownerB) {
			t.Fatalf("%s = %v, want ErrForeignOwner naming %q and %q", what, err, ownerA, ownerB)
		}
	}
	wantErr("Ping of owner b", g.Ping(ctx))
	h := newRecHandler("owner b")
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	wantErr("Run of owner b", g.Run(rctx, h))
	if rctx.Err() != nil {
		t.Fatal("Run only returned at the context deadline")
	}
	if calls := h.assignCalls(); len(calls) != 0 {
		t.Fatalf("owner b's handler was assigned %v", calls)
	}
}

func TestOwnerTooLong(t *testing.T) {
	_, err := NewGroup([]string{"127.0.0.1:9092"}, "t", "g", WithOwner(strings.Repeat("x", maxOwnerBytes+1)))
	if err == nil || !strings.Contains(err.Error(), "offset metadata limit") {
		t.Fatalf("NewGroup with a 4097-byte owner: %v", err)
	}
}

// TestOwnerRefusedAtAssignment: two owners running at once in one group
// (both pass the check before joining, since nothing is committed yet).
// When the first leaves, its partition moves to the second, whose
// assignment check refuses it: Run returns ErrForeignOwner naming both,
// and the handler never sees that partition.
func TestOwnerRefusedAtAssignment(t *testing.T) {
	brokers := startBroker(t)
	ctx := context.Background()
	pub, err := NewPublisher(ctx, brokers, "race", WithPartitions(2), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	const ownerA, ownerB = "model a version 1111", "model b version 2222"
	member := func(owner string) *Group {
		g, err := NewGroup(brokers, "race", "race", fastGroup(WithOwner(owner), WithIdleInterval(150*time.Millisecond))...)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	hb := newRecHandler("owner b")
	hb.commit = true
	gb := member(ownerB)
	bctx, bcancel := context.WithTimeout(ctx, 30*time.Second)
	defer bcancel()
	bdone := make(chan error, 1)
	go func() { bdone <- gb.Run(bctx, hb) }()
	waitFor(t, 15*time.Second, "owner b owning both partitions", func() bool { return len(hb.activeParts()) == 2 })

	ha := newRecHandler("owner a")
	ha.commit = true
	stopA := runGroup(t, member(ownerA), ha)
	waitFor(t, 20*time.Second, "one partition each", func() bool {
		return len(ha.activeParts()) == 1 && len(hb.activeParts()) == 1
	})
	aPart := ha.activeParts()[0]
	publishN(t, pub, 20, "r")
	waitFor(t, 20*time.Second, "owner a's records", func() bool {
		ha.mu.Lock()
		defer ha.mu.Unlock()
		return len(ha.recs[aPart]) > 0
	})
	// An idle call after the records means the Records call that
	// committed them has returned.
	seen := time.Now()
	waitFor(t, 20*time.Second, "owner a's commit", func() bool {
		ha.mu.Lock()
		defer ha.mu.Unlock()
		at := ha.idleAt[aPart]
		return len(at) > 0 && at[len(at)-1].After(seen)
	})
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-bdone:
		if !errors.Is(err, ErrForeignOwner) || !strings.Contains(err.Error(), ownerA) || !strings.Contains(err.Error(), ownerB) {
			t.Fatalf("owner b's Run = %v, want ErrForeignOwner naming %q and %q", err, ownerA, ownerB)
		}
	case <-bctx.Done():
		t.Fatal("owner b went on after owner a's partition moved to it")
	}
	for _, c := range hb.assignCalls() {
		if c.partition == aPart && c.committed >= 0 {
			t.Fatalf("owner b's handler was assigned owner a's partition %d at committed %d", aPart, c.committed)
		}
	}
}
