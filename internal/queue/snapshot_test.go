package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/broker"
)

// TestReadSnapshot reads every record produced before the call, in offset
// order per partition with headers, and none produced while it runs.
func TestReadSnapshot(t *testing.T) {
	addrs := startBroker(t, broker.WithTopic("dl", 2))
	ctx := context.Background()
	p, err := NewPublisher(ctx, addrs, "dl", WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 6 {
		if err := p.Publish(ctx, Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i), Headers: map[string]string{"h": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Brokers: addrs}
	got := map[string]string{}
	last := map[int]int64{0: -1, 1: -1}
	end, err := ReadSnapshot(ctx, cfg, "dl", func(r Record) error {
		if r.Offset <= last[r.Partition] {
			t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, last[r.Partition])
		}
		last[r.Partition] = r.Offset
		got[string(r.Value)] = r.Headers["h"]
		// Written during the read: past the snapshot's end.
		return p.Publish(ctx, Message{Key: []byte("later" + string(r.Value)), Value: []byte("later")})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || end[0]+end[1] != 6 {
		t.Fatalf("read %v with ends %v, want the 6 records produced before the call", got, end)
	}
	for i := range 6 {
		if got[fmt.Sprintf("v%d", i)] != fmt.Sprint(i) {
			t.Errorf("record v%d: header %q", i, got[fmt.Sprintf("v%d", i)])
		}
	}
}

func TestReadSnapshotErrors(t *testing.T) {
	addrs := startBroker(t, broker.WithTopic("dl", 1))
	ctx := context.Background()
	_, err := ReadSnapshot(ctx, Config{Brokers: addrs}, "missing", func(Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), addrs[0]) {
		t.Fatalf("missing topic: %v, want an error naming the topic and the brokers", err)
	}
	p, err := NewPublisher(ctx, addrs, "dl", WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Publish(ctx, Message{Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop here")
	if _, err := ReadSnapshot(ctx, Config{Brokers: addrs}, "dl", func(Record) error { return stop }); err != stop {
		t.Fatalf("callback error: got %v, want it unchanged", err)
	}
}
