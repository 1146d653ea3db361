package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRoundTripZstd publishes keyed records with headers and reads them back
// through a Group; a kfake control hook checks that produce requests carry
// zstd-compressed batches with acks=all.
func TestRoundTripZstd(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var produces, zstdBatches, otherBatches, badAcks atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		produces.Add(1)
		if pr.Acks != -1 {
			badAcks.Add(1)
		}
		for _, tp := range pr.Topics {
			for _, p := range tp.Partitions {
				// RecordBatch: baseOffset(8) length(4) leaderEpoch(4) magic(1) crc(4) attributes(2)
				if len(p.Records) < 23 {
					continue
				}
				if binary.BigEndian.Uint16(p.Records[21:23])&0x7 == 4 {
					zstdBatches.Add(1)
				} else {
					otherBatches.Add(1)
				}
			}
		}
		return nil, nil, false
	})
	brokers := c.ListenAddrs()
	ctx := context.Background()
	pub, err := NewPublisher(ctx, brokers, "docs", WithPartitions(3), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publishN(t, pub, 50, "rt")
	if produces.Load() == 0 || zstdBatches.Load() == 0 || otherBatches.Load() != 0 || badAcks.Load() != 0 {
		t.Fatalf("produce requests %d: zstd batches %d, other batches %d, requests without acks=all %d",
			produces.Load(), zstdBatches.Load(), otherBatches.Load(), badAcks.Load())
	}

	g, err := NewGroup(brokers, "docs", "rt", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecHandler("rt")
	stop := runGroup(t, g, h)
	waitFor(t, 15*time.Second, "50 records", func() bool { return h.total() >= 50 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	seen := map[string]bool{}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recs) != 3 {
		t.Errorf("records came from %d partitions, want 3 (hash balancer over 3 partitions)", len(h.recs))
	}
	for p, recs := range h.recs {
		for i, r := range recs {
			if r.Partition != p || r.Topic != "docs" {
				t.Errorf("record %s/%d delivered for partition %d", r.Topic, r.Partition, p)
			}
			if i > 0 && r.Offset != recs[i-1].Offset+1 {
				t.Errorf("partition %d: offset %d follows %d", p, r.Offset, recs[i-1].Offset)
			}
			var n int
			if _, err := fmt.Sscanf(string(r.Key), "rt-key-%d", &n); err != nil {
				t.Fatalf("bad key %q", r.Key)
			}
			if string(r.Value) != fmt.Sprintf("rt-value-%d", n) || r.Headers["i"] != fmt.Sprint(n) {
				t.Errorf("key %q: value %q headers %v", r.Key, r.Value, r.Headers)
			}
			if r.HighWaterMark <= r.Offset || r.Time.IsZero() {
				t.Errorf("record %d: high-water mark %d, time %v", r.Offset, r.HighWaterMark, r.Time)
			}
			seen[string(r.Key)] = true
		}
	}
	if len(seen) != 50 {
		t.Errorf("saw %d distinct keys, want 50", len(seen))
	}
	// The same key always lands in the same partition.
	publishN(t, pub, 1, "rt")
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	key0 := []byte("rt-key-0")
	var p0 int = -1
	for p, recs := range h.recs {
		for _, r := range recs {
			if string(r.Key) == string(key0) {
				p0 = p
			}
		}
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{"docs": {kafka.LastOffsetOf(p0)}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Topics["docs"][0].LastOffset, int64(len(h.recs[p0])+1); got != want {
		t.Errorf("after republishing key %q, partition %d ends at %d, want %d", key0, p0, got, want)
	}
}

// TestRebalanceMovesPartitions: two members split 4 partitions; when one
// leaves, the other is assigned its partitions with the committed offsets.
// A commit by the departed member fails with ErrNotOwner.
func TestRebalanceMovesPartitions(t *testing.T) {
	brokers := startBroker(t)
	ctx := context.Background()
	pub, err := NewPublisher(ctx, brokers, "split", WithPartitions(4), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publishN(t, pub, 80, "s")

	ga, err := NewGroup(brokers, "split", "workers", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := NewGroup(brokers, "split", "workers", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	ha, hb := newRecHandler("a"), newRecHandler("b")
	ha.commit, hb.commit = true, true
	stopA := runGroup(t, ga, ha)
	stopB := runGroup(t, gb, hb)
	waitFor(t, 20*time.Second, "both members own 2 partitions and all records are read", func() bool {
		return len(ha.activeParts()) == 2 && len(hb.activeParts()) == 2 && len(ga.Assigned()) == 2 && len(gb.Assigned()) == 2
	})
	// Wait until everything is consumed and committed once more in the
	// final generation (commits of an earlier generation may have been
	// rejected mid-rebalance).
	waitFor(t, 20*time.Second, "80 records in the stable generation", func() bool {
		lag := map[int]int64{}
		for k, v := range ga.Lag() {
			lag[k] = v
		}
		for k, v := range gb.Lag() {
			lag[k] = v
		}
		if len(lag) != 4 {
			return false
		}
		for _, v := range lag {
			if v != 0 {
				return false
			}
		}
		return true
	})
	bParts := hb.activeParts()
	// Commit explicitly in the stable generation: ends of B's partitions.
	ends := map[int]int64{}
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	for _, p := range bParts {
		resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{"split": {kafka.LastOffsetOf(p)}}})
		if err != nil {
			t.Fatal(err)
		}
		ends[p] = resp.Topics["split"][0].LastOffset
		if err := gb.Commit(ctx, p, ends[p]); err != nil {
			t.Fatalf("commit by owner b of partition %d: %v", p, err)
		}
	}
	// A does not own B's partitions.
	if err := ga.Commit(ctx, bParts[0], 1); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("commit by non-owner: got %v, want ErrNotOwner", err)
	}
	nAssignedA := len(ha.assignCalls())

	if err := stopB(); err != nil {
		t.Fatalf("member b Run: %v", err)
	}
	if got := hb.activeParts(); len(got) != 0 {
		t.Fatalf("b still has active partitions %v after Run returned", got)
	}
	if err := gb.Commit(ctx, bParts[0], ends[bParts[0]]); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("commit after leaving: got %v, want ErrNotOwner", err)
	}
	waitFor(t, 20*time.Second, "a owns all 4 partitions", func() bool { return len(ha.activeParts()) == 4 })
	calls := ha.assignCalls()[nAssignedA:]
	for _, p := range bParts {
		found := false
		for _, c := range calls {
			if c.partition == p {
				found = true
				if c.committed != ends[p] {
					t.Errorf("a assigned partition %d with committed %d, want b's commit %d", p, c.committed, ends[p])
				}
			}
		}
		if !found {
			t.Errorf("a was not assigned b's partition %d after b left (calls %v)", p, calls)
		}
	}
	// a resumes b's partitions exactly at b's commits: nothing before them
	// is read again.
	ha.mu.Lock()
	before := map[int]int{}
	for _, p := range bParts {
		before[p] = len(ha.recs[p])
	}
	ha.mu.Unlock()
	publishN(t, pub, 40, "late")
	waitFor(t, 10*time.Second, "late records on b's partitions", func() bool {
		ha.mu.Lock()
		defer ha.mu.Unlock()
		for _, p := range bParts {
			if len(ha.recs[p]) == before[p] {
				return false
			}
		}
		return true
	})
	ha.mu.Lock()
	for _, p := range bParts {
		if first := ha.recs[p][before[p]]; first.Offset != ends[p] {
			t.Errorf("after takeover a read partition %d from offset %d, want b's commit %d", p, first.Offset, ends[p])
		}
	}
	ha.mu.Unlock()
	if err := stopA(); err != nil {
		t.Fatalf("member a Run: %v", err)
	}
}

// TestAssignedOffsetHonoured: the handler starts partition 0 at offset 5
// although the group has no commit, and a later explicit offset beyond a
// commit wins too.
func TestAssignedOffsetHonoured(t *testing.T) {
	brokers := startBroker(t)
	ctx := context.Background()
	if err := EnsureTopic(ctx, Config{Brokers: brokers}, "one", 1, 1); err != nil {
		t.Fatal(err)
	}
	pub, err := NewPublisher(ctx, brokers, "one", WithCreateTopic(false), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publishN(t, pub, 10, "o")

	tests := []struct {
		name      string
		from      From
		start     func(int, int64) int64
		wantFirst int64
		wantCount int
	}{
		{"explicit 5", FromCommitted, func(int, int64) int64 { return 5 }, 5, 5},
		{"default committed=none → earliest", FromCommitted, nil, 0, 10},
		{"latest", FromLatest, nil, -1, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGroup(brokers, "one", fmt.Sprint("honour-", i), fastGroup(WithFrom(tc.from), WithIdleInterval(150*time.Millisecond))...)
			if err != nil {
				t.Fatal(err)
			}
			h := newRecHandler(tc.name)
			h.start = tc.start
			stop := runGroup(t, g, h)
			waitFor(t, 15*time.Second, "an idle call after the backlog", func() bool {
				h.mu.Lock()
				defer h.mu.Unlock()
				return h.idle[0] > 0 && len(h.recs[0]) >= tc.wantCount
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			recs := h.recs[0]
			if len(recs) != tc.wantCount {
				t.Fatalf("got %d records, want %d", len(recs), tc.wantCount)
			}
			if tc.wantCount > 0 && recs[0].Offset != tc.wantFirst {
				t.Fatalf("first offset %d, want %d", recs[0].Offset, tc.wantFirst)
			}
			if len(h.assigned) != 1 || h.assigned[0].committed != NoCommit {
				t.Fatalf("assigned calls %v, want one with committed %d", h.assigned, NoCommit)
			}
			if !slices.Equal(h.revoked, []int{0}) {
				t.Fatalf("revoked %v, want [0]", h.revoked)
			}
		})
	}
}

// TestIdleDelivery: an empty partition gets empty Records calls, never
// closer together than the idle interval.
func TestIdleDelivery(t *testing.T) {
	brokers := startBroker(t)
	if err := EnsureTopic(context.Background(), Config{Brokers: brokers}, "quiet", 2, 1); err != nil {
		t.Fatal(err)
	}
	const interval = 200 * time.Millisecond
	g, err := NewGroup(brokers, "quiet", "idle", fastGroup(WithIdleInterval(interval))...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecHandler("idle")
	stop := runGroup(t, g, h)
	waitFor(t, 10*time.Second, "partitions assigned", func() bool { return len(h.activeParts()) == 2 })
	waitFor(t, 15*time.Second, "4 idle calls on each partition", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.idle[0] >= 4 && h.idle[1] >= 4
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := 0; p < 2; p++ {
		at := h.idleAt[p]
		for i := 1; i < len(at); i++ {
			// The loop waits a full interval after each delivery returns.
			if gap := at[i].Sub(at[i-1]); gap < interval {
				t.Errorf("partition %d: idle calls %d and %d only %v apart, interval %v", p, i-1, i, gap, interval)
			}
		}
		if len(h.recs[p]) != 0 {
			t.Errorf("partition %d: %d records delivered from an empty topic", p, len(h.recs[p]))
		}
	}
}

// TestDeadLetterHeaders: the DLQ topic is created, and the record keeps its
// key, value and headers plus the nerstream-* headers.
func TestDeadLetterHeaders(t *testing.T) {
	brokers := startBroker(t)
	ctx := context.Background()
	dl, err := NewDeadLetter(ctx, brokers, "docs.dlq", WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600))
	dl.now = func() time.Time { return fixed }
	rec := Record{Topic: "docs", Partition: 3, Offset: 42, Key: []byte("pmid:1"), Value: []byte(`{"bad":`),
		Headers: map[string]string{"trace": "t1", HeaderError: "spoofed"}}
	cause := fmt.Errorf("decode batch: %w", errors.New("unexpected EOF"))
	if err := dl.Send(ctx, rec, cause, map[string]string{"worker": "w-1", HeaderSourceTopic: "spoofed"}); err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(brokers, "docs.dlq", "dlq-reader", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecHandler("dlq")
	stop := runGroup(t, g, h)
	waitFor(t, 10*time.Second, "the dead letter", func() bool { return h.total() == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := h.recs[0][0]
	if string(got.Key) != "pmid:1" || string(got.Value) != `{"bad":` {
		t.Errorf("key %q value %q", got.Key, got.Value)
	}
	want := map[string]string{
		"trace": "t1", "worker": "w-1",
		HeaderError:           "decode batch: unexpected EOF",
		HeaderSourceTopic:     "docs",
		HeaderSourcePartition: "3",
		HeaderSourceOffset:    "42",
		HeaderFailedAt:        "2026-01-02T02:04:05.000006Z",
	}
	for k, v := range want {
		if got.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, got.Headers[k], v)
		}
	}
	if len(got.Headers) != len(want) {
		t.Errorf("headers %v, want exactly %v", got.Headers, want)
	}
}

// TestUnreachableBroker: constructors fail fast with the broker addresses in
// the error.
func TestUnreachableBroker(t *testing.T) {
	// A port that was just free: connection refused.
	addr := freeAddr(t)
	ctx := context.Background()
	cfg := WithConfig(Config{DialTimeout: 2 * time.Second})
	tests := []struct {
		name string
		run  func() error
	}{
		{"publisher", func() error { _, err := NewPublisher(ctx, []string{addr}, "t", cfg); return err }},
		{"publisher no create", func() error {
			_, err := NewPublisher(ctx, []string{addr}, "t", cfg, WithCreateTopic(false))
			return err
		}},
		{"dead letter", func() error { _, err := NewDeadLetter(ctx, []string{addr}, "t.dlq", cfg); return err }},
		{"ensure topic", func() error { return EnsureTopic(ctx, Config{Brokers: []string{addr}}, "t", 1, 1) }},
		{"group ping", func() error {
			g, err := NewGroup([]string{addr}, "t", "g")
			if err != nil {
				return fmt.Errorf("NewGroup must not dial: %w", err)
			}
			return g.Ping(ctx)
		}},
	}
	// A listener that accepts connections but never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	silentAddr := silent.Addr().String()
	tests = append(tests, struct {
		name string
		run  func() error
	}{"silent listener", func() error {
		_, err := NewPublisher(ctx, []string{silentAddr}, "t", WithConfig(Config{DialTimeout: time.Second}))
		if err != nil && strings.Contains(err.Error(), silentAddr) {
			return errors.New(strings.ReplaceAll(err.Error(), silentAddr, addr)) // same assertion below
		}
		return err
	}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.run()
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error for an unreachable broker")
			}
			t.Logf("%s: %v (after %v)", tc.name, err, took)
			if !strings.Contains(err.Error(), addr) {
				t.Errorf("error %q does not name the broker %s", err, addr)
			}
			if took > 5*time.Second {
				t.Errorf("took %v to fail", took)
			}
		})
	}
}

// TestHandlerErrorStopsRun: an error from Records ends Run with that error,
// and Revoked is still called.
func TestHandlerErrorStopsRun(t *testing.T) {
	brokers := startBroker(t)
	ctx := context.Background()
	pub, err := NewPublisher(ctx, brokers, "fail", WithPartitions(2), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publishN(t, pub, 4, "f")
	g, err := NewGroup(brokers, "fail", "fail", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecHandler("fail")
	boom := errors.New("storage down")
	h.fail = boom
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = g.Run(rctx, h)
	if !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want %v", err, boom)
	}
	if rctx.Err() != nil {
		t.Fatal("Run only returned at the context deadline")
	}
	if got := h.activeParts(); len(got) != 0 {
		t.Errorf("partitions %v not revoked after Run returned", got)
	}
	if err := g.Commit(ctx, 0, 1); !errors.Is(err, ErrNotOwner) {
		t.Errorf("commit after Run: %v, want ErrNotOwner", err)
	}
}

func TestGroupOptionErrors(t *testing.T) {
	b := []string{"127.0.0.1:9092"}
	tests := []struct {
		name  string
		topic string
		group string
		opts  []GroupOption
	}{
		{"empty topic", "", "g", nil},
		{"empty group", "t", "", nil},
		{"bad from", "t", "g", []GroupOption{WithFrom(From(9))}},
		{"negative session", "t", "g", []GroupOption{WithSessionTimeout(-1)}},
		{"heartbeat over session", "t", "g", []GroupOption{WithSessionTimeout(time.Second), WithHeartbeatInterval(2 * time.Second)}},
		{"zero batch", "t", "g", []GroupOption{WithMaxBatch(0)}},
		{"bad broker", "t", "g", []GroupOption{WithConfig(Config{Brokers: []string{"nohostport"}})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			brokers := b
			if tc.name == "bad broker" {
				brokers = nil
			}
			if _, err := NewGroup(brokers, tc.topic, tc.group, tc.opts...); err == nil {
				t.Fatal("NewGroup succeeded")
			}
		})
	}
	if _, err := NewGroup(nil, "t", "g"); err == nil || !strings.Contains(err.Error(), EnvBrokers) {
		t.Fatalf("no brokers: %v, want a hint at %s", err, EnvBrokers)
	}
}

// blockingHandler blocks in Records until the partition's context ends, as
// a handler applying backpressure would.
type blockingHandler struct {
	*recHandler
	blocked atomic.Int32
}

func (h *blockingHandler) Records(ctx context.Context, p Partition, recs []Record) error {
	if err := h.recHandler.Records(ctx, p, recs); err != nil {
		return err
	}
	h.blocked.Add(1)
	<-ctx.Done()
	h.blocked.Add(-1)
	return ctx.Err()
}

// TestRevokeCancelsBlockedRecords: a member stuck in Records (backpressure)
// is released by the rebalance when a second member joins, and the
// partitions are split.
func TestRevokeCancelsBlockedRecords(t *testing.T) {
	brokers := startBroker(t)
	pub, err := NewPublisher(context.Background(), brokers, "bp", WithPartitions(4), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publishN(t, pub, 40, "bp")
	ga, err := NewGroup(brokers, "bp", "bp", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	ha := &blockingHandler{recHandler: newRecHandler("a")}
	runGroup(t, ga, ha)
	waitFor(t, 10*time.Second, "a blocked in Records on 4 partitions", func() bool { return ha.blocked.Load() == 4 })
	gb, err := NewGroup(brokers, "bp", "bp", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	hb := newRecHandler("b")
	runGroup(t, gb, hb)
	waitFor(t, 15*time.Second, "partitions split after the rebalance", func() bool {
		return len(ha.activeParts()) == 2 && len(hb.activeParts()) == 2
	})
	ha.mu.Lock()
	defer ha.mu.Unlock()
	if len(ha.revoked) < 4 {
		t.Errorf("a saw %d revocations, want its 4 partitions revoked", len(ha.revoked))
	}
}
