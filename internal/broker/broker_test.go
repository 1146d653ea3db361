package broker

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestStartOptionErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		opts []Option
	}{
		{"negative port", context.Background(), []Option{WithPort(-1)}},
		{"port too big", context.Background(), []Option{WithPort(70000)}},
		{"zero partitions", context.Background(), []Option{WithPartitions(0)}},
		{"negative session", context.Background(), []Option{WithGroupMinSessionTimeout(-time.Second)}},
		{"cancelled ctx", cancelled, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Start(tc.ctx, tc.opts...)
			if err == nil {
				b.Close()
				t.Fatal("Start succeeded, want error")
			}
		})
	}
}

func TestFixedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b, err := Start(context.Background(), WithPort(port))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := "127.0.0.1:" + strconv.Itoa(port)
	if got := b.Addrs(); len(got) != 1 || got[0] != want {
		t.Fatalf("Addrs() = %v, want [%s]", got, want)
	}
	// A second broker on the same port must fail with an error naming the port.
	if b2, err := Start(context.Background(), WithPort(port)); err == nil {
		b2.Close()
		t.Fatal("second Start on a busy port succeeded")
	}
}

// TestDataDirResume checks that topics, records and committed group offsets
// survive a Close/Start cycle with the same data dir.
func TestDataDirResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "kafka")
	const topic, group = "docs", "workers"

	b, err := Start(ctx, WithDataDir(dir), WithTopic(topic, 3))
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{
		Addr: kafka.TCP(b.Addrs()...), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
	}
	msgs := []kafka.Message{
		{Key: []byte("a"), Value: []byte("one")},
		{Key: []byte("b"), Value: []byte("two")},
		{Key: []byte("c"), Value: []byte("three")},
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}
	w.Close()
	client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...)}
	cresp, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID: group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 1, Offset: 7}}},
	})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	for _, p := range cresp.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("commit partition %d: %v", p.Partition, p.Error)
		}
	}
	before := readAll(ctx, t, client, topic, 3)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // idempotent
		t.Fatal(err)
	}

	b2, err := Start(ctx, WithDataDir(dir), WithTopic(topic, 3))
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer b2.Close()
	client2 := &kafka.Client{Addr: kafka.TCP(b2.Addrs()...)}
	after := readAll(ctx, t, client2, topic, 3)
	if len(after) != len(msgs) {
		t.Fatalf("after restart read %d records, want %d (%v)", len(after), len(msgs), after)
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("record %q: before %q, after %q", k, v, after[k])
		}
	}
	fresp, err := client2.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
		GroupID: group, Topics: map[string][]int{topic: {1}},
	})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	ps := fresp.Topics[topic]
	if len(ps) != 1 || ps[0].CommittedOffset != 7 {
		t.Fatalf("committed offsets after restart = %+v, want partition 1 at 7", ps)
	}
}

// readAll returns key→value of every record in the topic's partitions.
func readAll(ctx context.Context, t *testing.T, c *kafka.Client, topic string, partitions int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p := 0; p < partitions; p++ {
		resp, err := c.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: 0, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("fetch partition %d: %v", p, err)
		}
		if resp.Error != nil {
			t.Fatalf("fetch partition %d: %v", p, resp.Error)
		}
		for {
			r, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("read partition %d: %v", p, err)
			}
			k, _ := io.ReadAll(r.Key)
			v, _ := io.ReadAll(r.Value)
			out[string(k)] = string(v)
		}
	}
	return out
}

// DropConnections closes the connection of exactly the next n matching
// requests; a client then sees a connection error, and the request after
// them is served normally.
func TestDropConnections(t *testing.T) {
	b, err := Start(context.Background(), WithTopic("t", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dropped := b.DropConnections(2, kmsg.Metadata.Int16())
	readPartitions := func() error {
		conn, err := kafka.Dial("tcp", b.Addrs()[0])
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.ReadPartitions("t")
		return err
	}
	for i := range 2 {
		if err := readPartitions(); err == nil {
			t.Fatalf("metadata request %d was answered, want its connection dropped", i+1)
		}
	}
	if err := readPartitions(); err != nil {
		t.Fatalf("third metadata request: %v, want an answer", err)
	}
	if got := dropped(); got != 2 {
		t.Fatalf("dropped %d connections, want 2", got)
	}
}
