package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/nerstream/nerstream/internal/apachekafka"
	"github.com/nerstream/nerstream/internal/queue"
)

// TestDeadLetterMessageLimit publishes two records that are not batches,
// each just under the message limit (1 MiB, the publishers' cap, under the
// brokers' message.max.bytes of 1048588, set explicitly on the shared Apache
// Kafka): on kfake and on Apache Kafka.
//   - The first is ~20 KiB under the limit: its dead letter (the record
//     whole, plus the nerstream-* headers) fits and is written intact.
//   - The second is ~150 bytes under the limit with most of its size in a
//     header: its dead letter, with the nerstream-* headers added, is over
//     the limit (the writer truncates only values) and cannot be written.
//     By design that stops the partition: the worker logs PARTITION STOPPED
//     naming the partition and offset, exits with an error, and commits
//     nothing past the record; a restarted worker stops on it again. The
//     record is never skipped silently.
func TestDeadLetterMessageLimit(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testDeadLetterMessageLimit(t, kind) })
	}
}

func testDeadLetterMessageLimit(t *testing.T, kind brokerKind) {
	c := newClusterOn(t, kind, 1)
	if kind == apacheBroker && apachekafka.MessageMaxBytes < queue.DefaultMaxMessageBytes {
		t.Fatalf("shared Apache Kafka's message.max.bytes %d is under the publishers' %d", apachekafka.MessageMaxBytes, queue.DefaultMaxMessageBytes)
	}
	random := func(n int) []byte { // incompressible: zstd cannot hide the size
		b := make([]byte, n*3/4)
		rand.Read(b)
		return []byte(base64.RawStdEncoding.EncodeToString(b))[:n]
	}
	const limit = queue.DefaultMaxMessageBytes
	under := random(limit - 20<<10)
	hdr := random(440 << 10)
	// kafka-go counts key, value and each header's name and value (with
	// their varint lengths) against the limit.
	overValue := random(limit - 150 - len(hdr) - len("big") - len("over") - 3 - 3 - 3 - 1 - 3)
	pub, err := queue.NewPublisher(context.Background(), c.addrs, c.topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(context.Background(), queue.Message{Key: []byte("under"), Value: under}); err != nil {
		t.Fatalf("publish a record 20 KiB under the limit: %v", err)
	}
	if err := pub.Publish(context.Background(), queue.Message{Key: []byte("over"), Value: overValue, Headers: map[string]string{"big": string(hdr)}}); err != nil {
		t.Fatalf("publish a record 150 bytes under the limit: %v", err)
	}
	pub.Close()

	out := c.runUntilExit(0, 120*time.Second)
	if !bytes.Contains(out, []byte("PARTITION STOPPED")) || !bytes.Contains(out, []byte(`"offset":1`)) {
		t.Fatalf("worker did not stop the partition at offset 1:\n%s", tail(out, 20))
	}
	dl := readAll(t, c.addrs, c.topic+".dlq")
	if len(dl) != 1 || !bytes.Equal(dl[0].Value, under) || dl[0].header(queue.HeaderTruncated) != "" || dl[0].header(queue.HeaderSourceOffset) != "0" {
		t.Fatalf("dead-letter topic: %d records, want the first record whole (%d bytes)", len(dl), len(under))
	}
	// Nothing past the unwritable dead letter was committed: a restarted
	// worker reads the record again and stops on it again.
	client := &kafka.Client{Addr: kafka.TCP(c.addrs...)}
	resp, err := client.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: c.group, Topics: map[string][]int{c.topic: {0}}})
	if err != nil || resp.Error != nil || len(resp.Topics[c.topic]) != 1 {
		t.Fatalf("committed offsets of group %s: %+v, %v", c.group, resp, err)
	}
	off := map[int]int64{0: resp.Topics[c.topic][0].CommittedOffset}
	if off[0] > 1 {
		t.Fatalf("group %s committed offset %d, past the record whose dead letter failed (offset 1)", c.group, off[0])
	}
	again := c.runUntilExit(1, 120*time.Second)
	if !bytes.Contains(again, []byte("PARTITION STOPPED")) {
		t.Fatalf("restarted worker did not stop on the record again:\n%s", tail(again, 20))
	}
	t.Logf("dead letter of %d bytes written whole; record %d+%d bytes (value+header): dead letter refused, partition stopped at offset 1, committed %d: %s",
		len(under), len(overValue), len(hdr), off[0], lastMatching(out, "PARTITION STOPPED"))
}

type readRecord struct {
	Value   []byte
	Headers []kafka.Header
}

func (r readRecord) header(k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// readAll reads partition 0 of topic up to its high-water mark.
func readAll(t *testing.T, addrs []string, topic string) []readRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hwm, err := queue.HighWatermarks(ctx, queue.Config{Brokers: addrs}, topic)
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: addrs, Topic: topic, Partition: 0, MaxBytes: 4 << 20})
	defer r.Close()
	var out []readRecord
	for int64(len(out)) < hwm[0] {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s from %v: %v", topic, addrs, err)
		}
		out = append(out, readRecord{Value: m.Value, Headers: m.Headers})
	}
	return out
}
