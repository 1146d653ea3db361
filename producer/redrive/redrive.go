package redrive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/producer/ingest"
)

// ReadFunc reads the dead-letter topic's snapshot, calling fn with each
// record (queue.ReadSnapshot bound to a topic), and returns its end offsets.
type ReadFunc func(ctx context.Context, fn func(queue.Record) error) (map[int]int64, error)

// PublisherFunc returns the publisher for a target topic; Run calls it
// once per topic.
type PublisherFunc func(ctx context.Context, topic string) (ingest.Publisher, error)

// Options configure Run.
type Options struct {
	// From is the dead-letter topic.
	From string
	// To is the target topic; empty: each dead letter's source topic.
	To string
	// Reasons selects dead letters by reason; empty: all.
	Reasons []document.DeadLetterReason
	// Limits bound the batches and documents published (the producer's
	// --batch-docs, --batch-bytes, --max-doc-bytes).
	Limits document.Limits
	// Manifest records redriven dead letters (nil: memory only).
	Manifest *Manifest
	// DryRun decodes, validates and batches but publishes and records
	// nothing.
	DryRun bool
	// MaxIDs bounds the ids listed per outcome in the report.
	MaxIDs int
	Log    *slog.Logger
}

// Run redrives the dead letters read by read (see the package comment).
// The report is complete up to the first error; a publish or manifest
// error stops Run, and what was acknowledged before is in the manifest.
func Run(ctx context.Context, read ReadFunc, pubFor PublisherFunc, o Options) (*Report, error) {
	if o.From == "" {
		return nil, errors.New("redrive: no dead-letter topic (--from)")
	}
	if o.To == o.From {
		return nil, fmt.Errorf("redrive: --to %s is the dead-letter topic itself", o.To)
	}
	if o.Limits.MaxDocs <= 0 || o.Limits.MaxBatchBytes <= 0 || o.Limits.MaxDocBytes <= 0 {
		return nil, fmt.Errorf("redrive: limits must be positive (docs %d, batch bytes %d, doc bytes %d)", o.Limits.MaxDocs, o.Limits.MaxBatchBytes, o.Limits.MaxDocBytes)
	}
	if o.Manifest == nil {
		o.Manifest = NewManifest(nil)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	r := &run{o: o, pubFor: pubFor, rep: newReport(o.From, o.To, o.DryRun, max(o.MaxIDs, 0)),
		pubs: map[string]ingest.Publisher{}, seen: map[docKey]bool{}, open: map[string]*openBatch{}, partition: -1}
	end, err := read(ctx, func(rec queue.Record) error { return r.record(ctx, rec) })
	r.rep.End = end
	if err != nil {
		return r.rep, err
	}
	return r.rep, r.flushAll(ctx)
}

type docKey struct {
	topic, id string
	version   int
}

// openBatch is a target topic's batcher over the document dead letters of
// one dead-letter partition, with the offsets of its pending documents.
type openBatch struct {
	target  string
	b       *document.Batcher
	offsets []int64
}

type run struct {
	o         Options
	pubFor    PublisherFunc
	rep       *Report
	pubs      map[string]ingest.Publisher
	seen      map[docKey]bool
	open      map[string]*openBatch // target topic → batcher of the current partition
	partition int
}

// record handles one dead letter.
func (r *run) record(ctx context.Context, rec queue.Record) error {
	r.rep.DeadLetters++
	if rec.Partition != r.partition {
		if err := r.flushAll(ctx); err != nil {
			return err
		}
		r.partition = rec.Partition
	}
	reason := reasonOf(rec)
	where := fmt.Sprintf("%d@%d", rec.Partition, rec.Offset)
	id := cmpOr(rec.Headers[document.HeaderDocID], where)
	target := cmpOr(r.o.To, rec.Headers[queue.HeaderSourceTopic])
	switch {
	case len(r.o.Reasons) > 0 && !slices.Contains(r.o.Reasons, reason):
		r.rep.skip(SkipNotSelected, reason, id, nil)
	case r.o.Manifest.Done(r.o.From, rec.Partition, rec.Offset):
		r.rep.skip(SkipAlreadyRedriven, reason, id, nil)
	case reason == document.ReasonDocumentTooLarge:
		r.rep.skip(SkipExcerptOnly, reason, id, errors.New("the dead letter holds only an excerpt; publish the document again from its source with a raised --max-doc-bytes"))
	case rec.Headers[queue.HeaderTruncated] != "":
		r.rep.skip(SkipTruncated, reason, id, fmt.Errorf("value cut from %s bytes to fit the dead-letter topic", rec.Headers[queue.HeaderTruncated]))
	case target == "":
		r.rep.skip(SkipNoTarget, reason, id, errors.New("no --to and no "+queue.HeaderSourceTopic+" header"))
	case target == r.o.From:
		r.rep.skip(SkipTargetIsDLQ, reason, id, fmt.Errorf("source topic %s is the dead-letter topic", target))
	case rec.Headers[document.HeaderDeadLetterKind] == "record" || reason == document.ReasonMalformedBatch:
		return r.batchRecord(ctx, rec, reason, target, where)
	default:
		return r.documentRecord(ctx, rec, reason, target, id)
	}
	return nil
}

// reasonOf is the dead letter's reason header; without it (older workers)
// a record dead letter is malformed_batch and a document one unlabelled.
func reasonOf(rec queue.Record) document.DeadLetterReason {
	if r := rec.Headers[document.HeaderDeadLetterReason]; r != "" {
		return document.DeadLetterReason(r)
	}
	if rec.Headers[document.HeaderDeadLetterKind] == "record" {
		return document.ReasonMalformedBatch
	}
	return ReasonUnlabelled
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// documentRecord redrives a dead letter that carries one document.
func (r *run) documentRecord(ctx context.Context, rec queue.Record, reason document.DeadLetterReason, target, id string) error {
	d, _, err := document.DecodeDocument(rec.Value, document.Limits{MaxDocBytes: r.o.Limits.MaxDocBytes})
	if err != nil {
		r.rep.skip(SkipInvalid, reason, id, err)
		return nil
	}
	if !r.fresh(target, d, reason) {
		return r.o.Manifest.MarkDone(ctx, r.o.From, rec.Partition, rec.Offset)
	}
	ob := r.open[target]
	if ob == nil {
		ob = &openBatch{target: target, b: r.batcher(fmt.Sprintf("%s-%d", r.o.From, rec.Partition))}
		r.open[target] = ob
	}
	full, err := ob.b.Add(d, rec.Offset)
	if err != nil {
		delete(r.seen, docKey{target, d.ID, d.Version})
		r.rep.skip(SkipInvalid, reason, d.ID, err)
		return nil
	}
	r.rep.Redriven.add(reason, d.ID, r.rep.maxIDs)
	ob.offsets = append(ob.offsets, rec.Offset)
	if full == nil {
		return nil
	}
	done := ob.offsets[:len(ob.offsets)-1]
	ob.offsets = ob.offsets[len(ob.offsets)-1:]
	return r.publish(ctx, target, rec.Partition, done, full)
}

// batchRecord redrives a record dead letter (malformed_batch) that decodes
// as a batch now: its valid documents go out in batches of their own
// (source file "<from>-<partition>@<offset>", positions = document index).
func (r *run) batchRecord(ctx context.Context, rec queue.Record, reason document.DeadLetterReason, target, where string) error {
	b, err := document.DecodeBatch(rec.Value, document.Limits{MaxDocBytes: r.o.Limits.MaxDocBytes})
	if b == nil || errors.Is(err, document.ErrMalformedBatch) {
		r.rep.skip(SkipMalformed, reason, where, err)
		return nil
	}
	for _, de := range document.RejectedDocs(err) {
		r.rep.skip(SkipInvalid, reason, cmpOr(de.ID, fmt.Sprintf("%s#%d", where, de.Index)), de.Err)
	}
	bt := r.batcher(fmt.Sprintf("%s-%d@%d", r.o.From, rec.Partition, rec.Offset))
	var out []*document.Batch
	for i, d := range b.Documents {
		if !r.fresh(target, d, reason) {
			continue
		}
		full, err := bt.Add(d, int64(i))
		if err != nil {
			delete(r.seen, docKey{target, d.ID, d.Version})
			r.rep.skip(SkipInvalid, reason, d.ID, err)
			continue
		}
		r.rep.Redriven.add(reason, d.ID, r.rep.maxIDs)
		if full != nil {
			out = append(out, full)
		}
	}
	if last := bt.Flush(); last != nil {
		out = append(out, last)
	}
	for i, b := range out {
		var done []int64
		if i == len(out)-1 {
			done = []int64{rec.Offset}
		}
		if err := r.publish(ctx, target, rec.Partition, done, b); err != nil {
			return err
		}
	}
	if len(out) == 0 {
		return r.o.Manifest.MarkDone(ctx, r.o.From, rec.Partition, rec.Offset)
	}
	return nil
}

// fresh reports whether d is the first document with its id and version
// for target in this run; a repeat (dead letters are at-least-once) is
// skipped as a duplicate.
func (r *run) fresh(target string, d document.Document, reason document.DeadLetterReason) bool {
	k := docKey{target, d.ID, d.Version}
	if r.seen[k] {
		r.rep.skip(SkipDuplicate, reason, d.ID, errors.New("version "+strconv.Itoa(d.Version)+" already redriven in this run"))
		return false
	}
	r.seen[k] = true
	return true
}

func (r *run) batcher(file string) *document.Batcher {
	return document.NewBatcher(file, document.WithMaxDocs(r.o.Limits.MaxDocs),
		document.WithMaxBytes(r.o.Limits.MaxBatchBytes), document.WithMaxDocBytes(r.o.Limits.MaxDocBytes))
}

// flushAll publishes every open batch (end of a partition or of the read).
func (r *run) flushAll(ctx context.Context) error {
	targets := make([]string, 0, len(r.open))
	for t := range r.open {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	for _, t := range targets {
		ob := r.open[t]
		if b := ob.b.Flush(); b != nil {
			if err := r.publish(ctx, t, r.partition, ob.offsets, b); err != nil {
				return err
			}
		}
	}
	clear(r.open)
	return nil
}

// publish sends b to target and, once acknowledged, records the dead
// letters at offsets of the current partition as redriven.
func (r *run) publish(ctx context.Context, target string, partition int, offsets []int64, b *document.Batch) error {
	r.rep.Batches++
	r.rep.Topics[target] += len(b.Documents)
	if r.o.DryRun {
		return nil
	}
	pub := r.pubs[target]
	if pub == nil {
		p, err := r.pubFor(ctx, target)
		if err != nil {
			return fmt.Errorf("redrive to %s: %w", target, err)
		}
		r.pubs[target], pub = p, p
	}
	msg, err := ingest.Message(b)
	if err != nil {
		return err
	}
	if err := pub.Publish(ctx, msg); err != nil {
		return fmt.Errorf("redrive batch %s (%d documents) to %s: %w", b.ID, len(b.Documents), target, err)
	}
	r.o.Log.Debug("redriven batch", "batch_id", b.ID, "docs", len(b.Documents), "topic", target)
	return r.o.Manifest.MarkDone(ctx, r.o.From, partition, offsets...)
}
