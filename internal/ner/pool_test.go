package ner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// reorder is a ConcurrentRunner that finishes every odd-numbered batch only
// after the batch that follows it: with two batches in flight, batch 1 ends
// after batch 2, 3 after 4, and so on — the order a pool of sessions gives
// when the later batch is the faster one.
type reorder struct {
	*fakeRunner
	total int // batches the run will have (an odd last one has no partner to wait for)

	mu    sync.Mutex
	calls int
	done  map[int]chan struct{}
	ended []int // call numbers in the order they finished
	runMu sync.Mutex
}

func (r *reorder) Concurrency() int { return 2 }

func (r *reorder) doneCh(k int) chan struct{} {
	if r.done[k] == nil {
		r.done[k] = make(chan struct{})
	}
	return r.done[k]
}

func (r *reorder) RunInto(ctx context.Context, ids, mask []int64, dst []float32) error {
	r.mu.Lock()
	r.calls++
	k := r.calls
	mine := r.doneCh(k)
	var partner chan struct{}
	if k%2 == 1 && k < r.total {
		partner = r.doneCh(k + 1)
	}
	r.mu.Unlock()
	if partner != nil {
		select {
		case <-partner:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.runMu.Lock()
	logits, err := r.fakeRunner.Run(ctx, ids, mask)
	copy(dst, logits)
	r.runMu.Unlock()
	r.mu.Lock()
	r.ended = append(r.ended, k)
	r.mu.Unlock()
	close(mine)
	return err
}

func withoutConfidence(rs []Result) []Result {
	for _, r := range rs {
		for j := range r.Chunks {
			r.Chunks[j].Confidence = 0
		}
	}
	return rs
}

// Batches that finish out of order still reach decoding in packing order:
// every document's chunks equal those of the one-at-a-time pipeline.
func TestConcurrentBatchesFinishingOutOfOrderKeepResults(t *testing.T) {
	tok := loadTok(t)
	docs := devDocs(t, 30)
	for _, pk := range []Packing{PackRecord, PackSentence} {
		o := DefaultOptions()
		o.Packing = pk
		seq, _ := New(tok, newFake(t, tok, 4, byID), jnlpbaLabels, o)
		want, err := seq.Annotate(context.Background(), docs)
		if err != nil {
			t.Fatal(err)
		}
		total := int(seq.Stats().Batches)
		if total < 4 {
			t.Fatalf("%v: %d batches: too few to reorder", pk, total)
		}
		ro := &reorder{fakeRunner: newFake(t, tok, 4, byID), total: total, done: map[int]chan struct{}{}}
		a, _ := New(tok, ro, jnlpbaLabels, o)
		got, err := a.Annotate(context.Background(), docs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ro.ended[:4], []int{2, 1, 4, 3}) {
			t.Fatalf("%v: batches finished in order %v: the test did not reorder them", pk, ro.ended[:4])
		}
		if !reflect.DeepEqual(withoutConfidence(got), withoutConfidence(want)) {
			t.Fatalf("%v: results with batches finishing out of order differ from the sequential pipeline", pk)
		}
		if st := a.Stats(); st.Batches != int64(total) || st.Windows != seq.Stats().Windows {
			t.Fatalf("%v: stats %d batches %d windows, want %d and %d", pk, st.Batches, st.Windows, total, seq.Stats().Windows)
		}
	}
}

// gated blocks its first Run until release is closed.
type gated struct {
	Runner
	once    sync.Once
	release chan struct{}
	calls   int
	mu      sync.Mutex
}

func (g *gated) Run(ctx context.Context, ids, mask []int64) ([]float32, error) {
	g.once.Do(func() { <-g.release })
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	return g.Runner.Run(ctx, ids, mask)
}

// signalling closes ran after its first Run.
type signalling struct {
	Runner
	once sync.Once
	ran  chan struct{}
}

func (s *signalling) Run(ctx context.Context, ids, mask []int64) ([]float32, error) {
	l, err := s.Runner.Run(ctx, ids, mask)
	s.once.Do(func() { close(s.ran) })
	return l, err
}

// A Pool runs batches on all of its runners at once (the first runner is
// held until the second has run a batch) and gives the results of one.
func TestPoolRunsBatchesConcurrently(t *testing.T) {
	tok := loadTok(t)
	docs := devDocs(t, 30)
	o := DefaultOptions()
	one, _ := New(tok, newFake(t, tok, 4, byID), jnlpbaLabels, o)
	want, err := one.Annotate(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	second := &signalling{Runner: newFake(t, tok, 4, byID), ran: make(chan struct{})}
	first := &gated{Runner: newFake(t, tok, 4, byID), release: second.ran}
	p, err := NewPool(first, second)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(tok, p, jnlpbaLabels, o)
	got, err := a.Annotate(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutConfidence(got), withoutConfidence(want)) {
		t.Fatal("pooled results differ from one runner's")
	}
	if first.calls == 0 {
		t.Fatal("the first runner never ran")
	}
	// Run (the Runner method) returns a copy that outlives the next run.
	ids, mask := make([]int64, 4*128), make([]int64, 4*128)
	ids[0], ids[1], ids[2], mask[0], mask[1], mask[2] = tok.CLS(), 1000, tok.SEP(), 1, 1, 1
	l1, err := p.Run(context.Background(), ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	keep := slices.Clone(l1)
	ids[1] = 1003 // another label under byID
	if _, err := p.Run(context.Background(), ids, mask); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l1, keep) {
		t.Fatal("Pool.Run's logits changed with the next run")
	}
}

func TestNewPoolChecksShapes(t *testing.T) {
	tok := loadTok(t)
	if _, err := NewPool(); err == nil {
		t.Fatal("empty pool accepted")
	}
	_, err := NewPool(newFake(t, tok, 4, byID), newFake(t, tok, 8, byID))
	if err == nil || !strings.Contains(err.Error(), "runner 1") {
		t.Fatalf("mixed batch sizes: err = %v, want one naming runner 1", err)
	}
	p, _ := NewPool(newFake(t, tok, 4, byID))
	if err := p.RunInto(context.Background(), make([]int64, 512), make([]int64, 512), make([]float32, 3)); err == nil {
		t.Fatal("short logits buffer accepted")
	}
}

// A model error on one of several concurrent batches stops the pipeline
// with that error; nothing hangs.
func TestPoolModelErrorStopsPipeline(t *testing.T) {
	tok := loadTok(t)
	p, _ := NewPool(errRunner{}, errRunner{})
	a, _ := New(tok, p, jnlpbaLabels, DefaultOptions())
	docs := devDocs(t, 20)
	_, err := a.Annotate(context.Background(), docs)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want the runner's error", err)
	}
}

// panicOnID panics on every batch holding wordpiece id, then runs next.
type panicOnID struct {
	Runner
	id int64
}

func (p *panicOnID) Run(ctx context.Context, ids, mask []int64) ([]float32, error) {
	if slices.Contains(ids, p.id) {
		panic("onnxruntime: segfault-like failure")
	}
	return p.Runner.Run(ctx, ids, mask)
}

// With a pool of guarded sessions, a batch that panics on every session
// fails its own documents only.
func TestPoolContainedPanicFailsOnlyThatBatch(t *testing.T) {
	tok := loadTok(t)
	docs := []Doc{{ID: "a", Text: "IL-2 activates NF-kappa B."}, {ID: "b", Text: "Jurkat T cells express CD28."},
		{ID: "c", Text: "c-fos mRNA was induced."}, {ID: "d", Text: "GATA-1 binds DNA."}}
	bad := tok.Encode("Jurkat").IDs[0]
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := DefaultOptions()
	o.Packing = PackSentence
	clean, _ := New(tok, newFake(t, tok, 1, byID), jnlpbaLabels, o)
	want, _ := clean.Annotate(context.Background(), docs)
	p, _ := NewPool(Guard(&panicOnID{Runner: newFake(t, tok, 1, byID), id: bad}, quiet),
		Guard(&panicOnID{Runner: newFake(t, tok, 1, byID), id: bad}, quiet))
	a, _ := New(tok, p, jnlpbaLabels, o)
	got := runAll(t, a, docs)
	if len(got) != len(docs) {
		t.Fatalf("%d results for %d documents", len(got), len(docs))
	}
	for i, r := range got {
		if r.Doc.ID != docs[i].ID {
			t.Fatalf("result %d is %s, want %s", i, r.Doc.ID, docs[i].ID)
		}
		if r.Doc.ID == "b" {
			if !errors.Is(r.Err, ErrModelPanic) {
				t.Fatalf("b: err %v, want ErrModelPanic", r.Err)
			}
		} else if r.Err != nil || !reflect.DeepEqual(r.Chunks, want[i].Chunks) {
			t.Fatalf("%s: err %v, chunks %v, want %v", r.Doc.ID, r.Err, r.Chunks, want[i].Chunks)
		}
	}
}
