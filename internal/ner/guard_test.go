package ner

import (
	"context"
	"errors"
	"io"
	"log/slog"
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
