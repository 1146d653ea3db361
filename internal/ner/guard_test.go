package ner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type panicky struct {
	calls, panics int
}

func (p *panicky) BatchSize() int { return 1 }
func (p *panicky) SeqLen() int    { return 2 }
func (p *panicky) NumLabels() int { return 1 }
func (p *panicky) Run(context.Context, []int64, []int64) ([]float32, error) {
	p.calls++
	if p.calls <= p.panics {
		panic("onnxruntime: segfault-like failure")
	}
	return []float32{1, 2}, nil
}

func TestGuardContainsAModelPanicAndRetriesOnce(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		panics  int
		wantErr bool
		calls   int
	}{
		{"no panic", 0, false, 1},
		{"one panic, retried", 1, false, 2},
		{"two panics, error", 2, true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &panicky{panics: tc.panics}
			g := Guard(p, quiet)
			logits, err := g.Run(context.Background(), []int64{1, 2}, []int64{1, 1})
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrModelPanic)) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && len(logits) != 2 {
				t.Fatalf("logits %v", logits)
			}
			if p.calls != tc.calls || g.Panics.Load() != int64(tc.panics) {
				t.Fatalf("calls %d panics %d, want %d and %d", p.calls, g.Panics.Load(), tc.calls, tc.panics)
			}
		})
	}
}

// panicOn panics on the batches (calls, 1-based) in bad, then runs next.
type panicOn struct {
	next Runner
	mu   sync.Mutex
	call int
	bad  map[int]bool
}

func (p *panicOn) BatchSize() int { return p.next.BatchSize() }
func (p *panicOn) SeqLen() int    { return p.next.SeqLen() }
func (p *panicOn) NumLabels() int { return p.next.NumLabels() }
func (p *panicOn) Run(ctx context.Context, ids, mask []int64) ([]float32, error) {
	p.mu.Lock()
	p.call++
	bad := p.bad[p.call]
	p.mu.Unlock()
	if bad {
		panic("onnxruntime: segfault-like failure")
	}
	return p.next.Run(ctx, ids, mask)
}

// runAll runs docs through a.Run, which (unlike Each) goes on past a
// document whose batch failed, and returns every Result in order.
func runAll(t *testing.T, a *Annotator, docs []Doc) []Result {
	t.Helper()
	in := make(chan Doc, len(docs))
	for _, d := range docs {
		in <- d
	}
	close(in)
	out := make(chan Result, len(docs))
	if err := a.Run(context.Background(), in, out); err != nil {
		t.Fatalf("Run stopped: %v", err)
	}
	var got []Result
	for r := range out {
		got = append(got, r)
	}
	return got
}

// A batch the model panics on twice fails only its own documents (Result.Err
// wraps ErrModelPanic, no chunks); documents before and after it are
// annotated as if nothing happened, and Each reports the failure by name.
func TestModelPanicTwiceFailsOnlyThatBatchsDocuments(t *testing.T) {
	tok := loadTok(t)
	docs := []Doc{{ID: "a", Text: "IL-2 activates NF-kappa B."}, {ID: "b", Text: "Jurkat T cells express CD28."},
		{ID: "c", Text: "c-fos mRNA was induced."}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := DefaultOptions()
	opts.Packing = PackSentence // one window per document, one window per batch (B=1)
	clean, _ := New(tok, newFake(t, tok, 1, byID), jnlpbaLabels, opts)
	want, err := clean.Annotate(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	// Batch 2 (document b) panics, and so does its retry (call 3).
	g := Guard(&panicOn{next: newFake(t, tok, 1, byID), bad: map[int]bool{2: true, 3: true}}, quiet)
	a, _ := New(tok, g, jnlpbaLabels, opts)
	got := runAll(t, a, docs)
	if len(got) != 3 || got[0].Doc.ID != "a" || got[1].Doc.ID != "b" || got[2].Doc.ID != "c" {
		t.Fatalf("results %v, want a, b, c in order", got)
	}
	if !errors.Is(got[1].Err, ErrModelPanic) || len(got[1].Chunks) != 0 {
		t.Fatalf("b: err %v, %d chunks; want ErrModelPanic and none", got[1].Err, len(got[1].Chunks))
	}
	for _, i := range []int{0, 2} {
		if got[i].Err != nil || !reflect.DeepEqual(got[i].Chunks, want[i].Chunks) {
			t.Fatalf("%s: err %v chunks %v, want %v", got[i].Doc.ID, got[i].Err, got[i].Chunks, want[i].Chunks)
		}
	}
	if g.Panics.Load() != 2 {
		t.Fatalf("%d panics contained, want 2", g.Panics.Load())
	}
	// Each (annotate, eval) stops at the failed document and names it.
	a2, _ := New(tok, Guard(&panicOn{next: newFake(t, tok, 1, byID), bad: map[int]bool{2: true, 3: true}}, quiet), jnlpbaLabels, opts)
	_, err = a2.Annotate(context.Background(), docs)
	if !errors.Is(err, ErrModelPanic) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("Annotate err = %v, want ErrModelPanic naming document b", err)
	}
}
