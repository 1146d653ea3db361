package queue

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestPublishErrorKeepsCauses: a partial failure names the failed messages
// and keeps their causes for errors.Is.
func TestPublishErrorKeepsCauses(t *testing.T) {
	p := &Publisher{topic: "docs", cfg: Config{Brokers: []string{"k:9092"}}}
	msgs := []Message{{Key: []byte("a")}, {Key: []byte("b")}, {Key: []byte("c")}}
	err := p.publishError(kafka.WriteErrors{nil, kafka.MessageSizeTooLarge, kafka.NotLeaderForPartition}, msgs)
	if !errors.Is(err, kafka.MessageSizeTooLarge) || !errors.Is(err, kafka.NotLeaderForPartition) {
		t.Fatalf("causes lost: %v", err)
	}
	var pe *PublishError
	if !errors.As(err, &pe) || len(pe.Causes) != 2 || pe.Total != 3 {
		t.Fatalf("err = %#v", err)
	}
	for _, want := range []string{"2 of 3 messages failed", `message 1 (key "b")`, `message 2 (key "c")`, "k:9092"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if err := p.publishError(errors.New("boom"), msgs); !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "3 messages") {
		t.Errorf("plain error: %v", err)
	}
}

// TestDeadLetterTruncatesOversizeValues: a record too large for the
// dead-letter topic's message limit is written truncated, with its original
// size and source in the headers, instead of failing (and being lost).
func TestDeadLetterTruncatesOversizeValues(t *testing.T) {
	brokers := startBroker(t)
	ctx := context.Background()
	const limit = 64 << 10
	dl, err := NewDeadLetter(ctx, brokers, "big.dlq", WithLogger(quietLogger), WithMaxMessageBytes(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	value := bytes.Repeat([]byte("x"), 300<<10)
	if err := dl.Send(ctx, Record{Topic: "docs", Partition: 1, Offset: 7, Key: []byte("k"), Value: value}, errors.New("too big"), nil); err != nil {
		t.Fatalf("oversize dead letter refused: %v", err)
	}
	small := []byte(`{"id":"a"}`)
	if err := dl.Send(ctx, Record{Topic: "docs", Partition: 1, Offset: 8, Key: []byte("k2"), Value: small}, errors.New("bad"), nil); err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(brokers, "big.dlq", "big-reader", fastGroup()...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecHandler("dlq")
	stop := runGroup(t, g, h)
	waitFor(t, 10*time.Second, "both dead letters", func() bool { return h.total() == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	big, ok := h.recs[0][0], h.recs[0][1]
	if big.Headers[HeaderTruncated] != strconv.Itoa(len(value)) || len(big.Value) != limit-deadLetterHeadroom-1 ||
		!bytes.Equal(big.Value, value[:len(big.Value)]) || big.Headers[HeaderSourceOffset] != "7" {
		t.Errorf("truncated dead letter: %d bytes, headers %v", len(big.Value), big.Headers)
	}
	if _, cut := ok.Headers[HeaderTruncated]; cut || !bytes.Equal(ok.Value, small) {
		t.Errorf("small dead letter changed: %q, headers %v", ok.Value, ok.Headers)
	}
}
