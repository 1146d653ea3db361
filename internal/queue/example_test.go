package queue_test

import (
	"context"
	"log"
	"time"

	"github.com/nerstream/nerstream/internal/queue"
)

// storage stands in for the worker's object store, the source of truth for
// progress.
type storage struct{ next map[int]int64 }

type worker struct {
	store *storage
}

// Assigned resumes where storage says; with nothing stored it lets the
// group decide (committed offset, else earliest).
func (w *worker) Assigned(ctx context.Context, p queue.Partition, committed int64) (int64, error) {
	if next, ok := w.store.next[p.ID()]; ok {
		return next, nil
	}
	return queue.UseDefault, nil
}

func (w *worker) Records(ctx context.Context, p queue.Partition, recs []queue.Record) error {
	if len(recs) == 0 {
		return nil // idle: flush buffered output here
	}
	// ... process and upload, then record progress and commit for lag ...
	next := recs[len(recs)-1].Offset + 1
	w.store.next[p.ID()] = next
	if err := p.Commit(ctx, next); err != nil {
		log.Printf("commit (lag only): %v", err) // ErrNotOwner after a revoke is harmless
	}
	return nil
}

func (w *worker) Revoked(p queue.Partition) {}

func ExampleGroup() {
	cfg := queue.Config{ClientID: "example", TLS: true} // usually from flags: Config.RegisterFlags
	g, err := queue.NewGroup([]string{"localhost:9092"}, "documents", "nerstream-workers",
		queue.WithConfig(cfg), queue.WithIdleInterval(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	w := &worker{store: &storage{next: map[int]int64{}}} // complete before the group runs it
	if err := g.Run(context.Background(), w); err != nil {
		log.Fatal(err)
	}
}

func ExamplePublisher() {
	ctx := context.Background()
	p, err := queue.NewPublisher(ctx, []string{"localhost:9092"}, "documents", queue.WithPartitions(12))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	err = p.Publish(ctx, queue.Message{
		Key:     []byte("batch-000001"),
		Value:   []byte(`{"documents":[]}`),
		Headers: map[string]string{"content-type": "application/json"},
	})
	if err != nil {
		log.Fatal(err)
	}
}
