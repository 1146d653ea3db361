package ner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// ErrModelPanic is wrapped by the error a Guard returns when the model
// panicked on a batch twice in a row.
var ErrModelPanic = errors.New("model panicked")

// GuardedRunner is a Runner that contains panics of the one it wraps.
type GuardedRunner struct {
	Runner
	log *slog.Logger
	// Panics counts contained panics (each is logged with its stack).
	Panics atomic.Int64
}

// Guard wraps r so that a panic inside Run (e.g. in the inference runtime)
// is contained: it is logged with its stack, the batch is retried once, and
// a second panic returns an error wrapping ErrModelPanic instead of
// crashing the process. The Annotator then fails only the documents with a
// window in that batch (Result.Err) and goes on; worker run dead-letters
// them (reason model_failure) before committing past their records.
func Guard(r Runner, log *slog.Logger) *GuardedRunner {
	if log == nil {
		log = slog.Default()
	}
	return &GuardedRunner{Runner: r, log: log}
}

// Run implements Runner.
func (g *GuardedRunner) Run(ctx context.Context, ids, mask []int64) ([]float32, error) {
	logits, err := g.try(ctx, ids, mask)
	if !errors.Is(err, ErrModelPanic) {
		return logits, err
	}
	g.log.Warn("model panicked on a batch; retrying it once", "err", err)
	logits, err = g.try(ctx, ids, mask)
	if errors.Is(err, ErrModelPanic) {
		g.log.Error("model panicked twice on the same batch; its documents fail", "err", err)
	}
	return logits, err
}

func (g *GuardedRunner) try(ctx context.Context, ids, mask []int64) (logits []float32, err error) {
	defer func() {
		if p := recover(); p != nil {
			g.Panics.Add(1)
			g.log.Error("model panic contained", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			logits, err = nil, fmt.Errorf("%w: %v", ErrModelPanic, p)
		}
	}()
	return g.Runner.Run(ctx, ids, mask)
}
