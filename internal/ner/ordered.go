package ner

import (
	"context"
	"fmt"
)

// Item is one element of an [Ordered] stream: a document to annotate, or a
// marker (Marker true) that is not annotated and only holds a place in the
// order. Meta travels with it unchanged.
type Item[M any] struct {
	Doc    Doc // ignored for markers; Doc.Meta is not used (Meta is)
	Marker bool
	Meta   M
}

// Annotated is what an [Ordered] stream emits for one [Item]: the Result of
// a document (zero for a marker) with the item's Marker flag and Meta.
type Annotated[M any] struct {
	Result Result
	Marker bool
	// Skipped is set for a document that [SkipIf] kept from the model: its
	// Result is zero.
	Skipped bool
	Meta    M
}

// OrderedOption configures [Ordered].
type OrderedOption[M any] func(*orderedConfig[M])

type orderedConfig[M any] struct{ skip func(M) bool }

// SkipIf makes [Ordered] ask skip, just before a document is handed to the
// annotator, whether it is still wanted: a skipped document costs no window
// or model time and comes out in its place with Skipped set (and, like a
// marker, ends a PackRecord group). Documents are then handed over one at
// a time, so only those the annotator already holds are annotated after
// skip starts to say yes. `worker run` skips the documents of a revoked
// partition.
func SkipIf[M any](skip func(M) bool) OrderedOption[M] {
	return func(c *orderedConfig[M]) { c.skip = skip }
}

// RunFunc is the signature of [Annotator.Run]: read documents until in is
// closed, send each Result to out in input order, close out.
type RunFunc func(ctx context.Context, in <-chan Doc, out chan<- Result) error

// Ordered runs a stream of documents and markers through run and delivers an
// [Annotated] for every [Item] in exactly the order the items were sent:
// a marker comes out after the results of every document sent before it
// and before the result of any document sent after it. Callers build
// control flow on that guarantee (stream ends a Kafka record's file rows at
// its end-of-record marker). Markers cost no window or model time; with
// PackRecord a marker also ends the group of documents packed together.
//
// Ordered closes out before returning; its error is run's.
func Ordered[M any](ctx context.Context, run RunFunc, in <-chan Item[M], out chan<- Annotated[M], opts ...OrderedOption[M]) error {
	var cfg orderedConfig[M]
	for _, o := range opts {
		o(&cfg)
	}
	// runCtx ends when run returns, so the feeder never blocks on a
	// pipeline that stopped reading; results still drain under ctx.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	docs := make(chan Doc, cap(in))
	if cfg.skip != nil {
		docs = make(chan Doc) // decide at the hand-over, not before a buffer
	}
	res := make(chan Result, cap(out))
	errc := make(chan error, 1)
	// After ctx ends or run stops, keep draining in so that senders never
	// block, until they close it.
	drain := func() {
		go func() {
			for range in {
			}
		}()
	}
	go func() {
		defer close(docs)
		for {
			var it Item[M]
			var ok bool
			select {
			case it, ok = <-in:
				if !ok {
					return
				}
			case <-runCtx.Done():
				drain()
				return
			}
			if !feed(runCtx, docs, it, cfg.skip) {
				drain()
				return
			}
		}
	}()
	go func() {
		err := run(runCtx, docs, res)
		cancel() // run has stopped reading docs: release the feeder
		errc <- err
	}()
	defer close(out)
	for r := range res {
		o, ok := r.Doc.Meta.(ordered[M])
		if !ok {
			// Only Ordered writes docs; a foreign Meta means run broke its
			// contract (it must carry Doc.Meta through unchanged).
			for range res {
			}
			<-errc
			return fmt.Errorf("ner: ordered stream: result for %q carries foreign metadata %T", r.Doc.ID, r.Doc.Meta)
		}
		r.Doc.Meta = nil
		a := Annotated[M]{Marker: o.marker, Skipped: o.skipped, Meta: o.meta}
		if !o.marker && !o.skipped {
			a.Result = r
		}
		select {
		case out <- a:
		case <-ctx.Done():
		}
	}
	return <-errc
}

// feed hands it to the annotator as a Doc; false when ctx ended first. A
// marker, or a document skip says no longer wanted, becomes a boundary: no
// text, no sentence, no window.
func feed[M any](ctx context.Context, docs chan<- Doc, it Item[M], skip func(M) bool) bool {
	d := it.Doc
	skipped := !it.Marker && skip != nil && skip(it.Meta)
	if it.Marker || skipped {
		d = Doc{boundary: true}
	}
	d.Meta = ordered[M]{marker: it.Marker, skipped: skipped, meta: it.Meta}
	select {
	case docs <- d:
		return true
	case <-ctx.Done():
		return false
	}
}

// ordered is the Doc.Meta of Ordered's documents.
type ordered[M any] struct {
	marker, skipped bool
	meta            M
}
