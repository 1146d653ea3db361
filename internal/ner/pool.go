package ner

import (
	"context"
	"fmt"
)

// ConcurrentRunner is a Runner that can run several batches at once. The
// Annotator keeps Concurrency() batches in flight and still hands them to
// decoding in the order they were packed, so results do not depend on which
// batch finished first. *Pool implements it.
type ConcurrentRunner interface {
	Runner
	// Concurrency is how many RunInto calls may usefully run at once.
	Concurrency() int
	// RunInto runs one batch like Run and copies its logits into dst
	// (exactly BatchSize()*SeqLen()*NumLabels() long). It is safe for
	// concurrent use.
	RunInto(ctx context.Context, ids, mask []int64, dst []float32) error
}

// Pool runs batches on several Runners of one shape at once, each batch on
// whichever Runner is free: for example two single-threaded ONNX Runtime
// sessions of one bundle, which on a small CPU keep both cores busy with
// less synchronisation than one session with two intra-op threads.
type Pool struct {
	free    chan Runner
	n       int
	b, t, l int
}

// NewPool returns a Pool over rs, which must agree on batch size, sequence
// length and label count. Each Runner is used by one batch at a time.
func NewPool(rs ...Runner) (*Pool, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("ner: runner pool needs at least one runner")
	}
	p := &Pool{free: make(chan Runner, len(rs)), n: len(rs), b: rs[0].BatchSize(), t: rs[0].SeqLen(), l: rs[0].NumLabels()}
	for i, r := range rs {
		if r.BatchSize() != p.b || r.SeqLen() != p.t || r.NumLabels() != p.l {
			return nil, fmt.Errorf("ner: runner %d has shape [%d,%d]x%d labels, runner 0 [%d,%d]x%d",
				i, r.BatchSize(), r.SeqLen(), r.NumLabels(), p.b, p.t, p.l)
		}
		p.free <- r
	}
	return p, nil
}

// BatchSize implements Runner.
func (p *Pool) BatchSize() int { return p.b }

// SeqLen implements Runner.
func (p *Pool) SeqLen() int { return p.t }

// NumLabels implements Runner.
func (p *Pool) NumLabels() int { return p.l }

// Concurrency implements ConcurrentRunner: the number of Runners.
func (p *Pool) Concurrency() int { return p.n }

// RunInto implements ConcurrentRunner: it waits for a free Runner (or ctx),
// runs the batch there and copies the logits into dst before freeing it.
func (p *Pool) RunInto(ctx context.Context, ids, mask []int64, dst []float32) error {
	if want := p.b * p.t * p.l; len(dst) != want {
		return fmt.Errorf("ner: logits buffer of %d values, want %d", len(dst), want)
	}
	var r Runner
	select {
	case r = <-p.free:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { p.free <- r }()
	logits, err := r.Run(ctx, ids, mask)
	if err != nil {
		return err
	}
	if len(logits) != len(dst) {
		return fmt.Errorf("ner: model returned %d logits, want %d", len(logits), len(dst))
	}
	copy(dst, logits)
	return nil
}

// Run implements Runner; it returns a fresh slice, safe to keep.
func (p *Pool) Run(ctx context.Context, ids, mask []int64) ([]float32, error) {
	dst := make([]float32, p.b*p.t*p.l)
	if err := p.RunInto(ctx, ids, mask, dst); err != nil {
		return nil, err
	}
	return dst, nil
}
