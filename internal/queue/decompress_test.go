package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/broker"
	"github.com/segmentio/kafka-go"
)

// A zstd record that expands far beyond the limit is refused while it is
// read (memory stays bounded) and the partition reports itself stuck.
func TestDecompressionBombIsBoundedAndReportedStuck(t *testing.T) {
	SetMaxDecompressedBytes(1 << 20)
	t.Cleanup(func() { SetMaxDecompressedBytes(DefaultMaxDecompressedBytes) })
	addrs := startBroker(t, broker.WithTopic("bomb", 1))
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: "bomb", Compression: kafka.Zstd, BatchBytes: 64 << 20, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(strings.Repeat(" ", 32<<20))}); err != nil {
		t.Fatal(err)
	}
	stuck := make(chan error, 1)
	g, err := NewGroup(addrs, "bomb", "g-bomb", fastGroup(WithFrom(FromEarliest),
		WithStuckReporter(300*time.Millisecond, func(_ int, _ int64, s bool, err error) {
			if s {
				select {
				case stuck <- err:
				default:
				}
			}
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecHandler("bomb")
	go g.Run(ctx, h)
	select {
	case err := <-stuck:
		if !errors.Is(err, ErrDecompressionBomb) && !strings.Contains(err.Error(), ErrDecompressionBomb.Error()) {
			t.Fatalf("stuck for %v, want the decompression limit", err)
		}
	case <-ctx.Done():
		t.Fatal("the bomb was not reported")
	}
	if h.total() != 0 {
		t.Fatalf("%d records delivered from a bomb", h.total())
	}
}
