package queue

import (
	"errors"
	"strings"
	"testing"

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
