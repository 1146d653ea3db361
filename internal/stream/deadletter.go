package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/queue"
)

// The worker's dead-letter headers (besides queue's nerstream-* source
// headers) are document.HeaderDeadLetterKind, HeaderDeadLetterReason,
// HeaderBatchID, HeaderDocIndex and HeaderDocID. A document dead letter carries one document's JSON as its
// value; a record dead letter carries the record's value (queue.DeadLetter
// truncates one over the message limit and says so in a header).

// ErrDeadLetterFailed is wrapped by the error Records returns when a dead
// letter could not be written: the partition stops there and nothing past
// the record is stored or committed, so nothing is lost.
var ErrDeadLetterFailed = errors.New("dead letter not written")

// rejects dead-letters what DecodeBatch refused and returns the batch of
// valid documents to annotate (possibly nil). Rejected documents are
// dead-lettered one by one, each carrying only its own JSON, so that every
// dead letter stays under the message limit; a batch over the batch limits
// (producer and worker limits disagree) is split the same way when its
// documents can be read. Any dead letter that cannot be written returns an
// error wrapping ErrDeadLetterFailed.
func (w *Worker) rejects(ctx context.Context, r queue.Record, b *document.Batch, err error) (*document.Batch, error) {
	if err == nil {
		return b, nil
	}
	if lim := w.cfg.Limits.MaxBatchBytes; lim > 0 && len(r.Value) > lim {
		return nil, w.splitOversize(ctx, r, err)
	}
	if errors.Is(err, document.ErrMalformedBatch) || b == nil {
		relaxed := w.cfg.Limits
		relaxed.MaxBatchBytes, relaxed.MaxDocs = 0, 0
		if rb, rerr := document.DecodeBatch(r.Value, relaxed); rb != nil && (rerr == nil || !errors.Is(rerr, document.ErrMalformedBatch)) {
			// Readable but over the batch limits: split into document dead letters.
			cause := fmt.Errorf("%w (raise the worker's --max-batch-bytes/--max-docs-per-batch or lower the producer's --batch-bytes)", err)
			for i, d := range rb.Documents {
				raw, merr := document.EncodeDocument(d)
				if merr != nil {
					return nil, fmt.Errorf("partition %d offset %d: %w: %v", r.Partition, r.Offset, ErrDeadLetterFailed, merr)
				}
				if err := w.sendDocDeadLetter(ctx, r, rb.ID, i, d.ID, raw, cause, document.ReasonBatchTooLarge); err != nil {
					return nil, err
				}
			}
			for _, de := range document.RejectedDocs(rerr) {
				if err := w.sendDocDeadLetter(ctx, r, rb.ID, de.Index, de.ID, de.Raw, &de, document.ReasonInvalidDocument); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
		return nil, w.sendDeadLetter(ctx, r, err, document.ReasonMalformedBatch, map[string]string{document.HeaderDeadLetterKind: "record"})
	}
	for _, de := range document.RejectedDocs(err) {
		if err := w.sendDocDeadLetter(ctx, r, b.ID, de.Index, de.ID, de.Raw, &de, document.ReasonInvalidDocument); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// maxExcerpt bounds the part of a document too large to decode that its
// dead letter carries.
const maxExcerpt = 4 << 10

// splitOversize dead-letters a record over --max-batch-bytes document by
// document without ever decoding it whole: document.SplitBatch walks it and
// hands over one document at a time. A document within the per-document
// bound is decoded and dead-lettered as batch_too_large (or
// invalid_document); a larger one is dead-lettered by id with a bounded
// excerpt (document_too_large). A record that is not a batch is
// dead-lettered whole (queue.DeadLetter truncates it). Nothing valid is
// dropped: every document reaches the dead-letter topic.
func (w *Worker) splitOversize(ctx context.Context, r queue.Record, cause error) error {
	lim := w.cfg.Limits
	cause = fmt.Errorf("%w (raise the worker's --max-batch-bytes/--max-docs-per-batch or lower the producer's --batch-bytes)", cause)
	// JSON escaping writes a byte of content as up to 6 bytes.
	maxRaw := 6*lim.MaxDocBytes + 64<<10
	if lim.MaxDocBytes <= 0 {
		maxRaw = lim.MaxBatchBytes
	}
	_, err := document.SplitBatch(r.Value, func(batchID string, i int, raw []byte) error {
		if len(raw) > maxRaw {
			docID := document.DocumentID(raw)
			tooBig := fmt.Errorf("document %d (id %q) is %d bytes of JSON, over the %d-byte bound: %w", i, docID, len(raw), maxRaw, cause)
			return w.sendDocDeadLetter(ctx, r, batchID, i, docID, raw[:maxExcerpt], tooBig, document.ReasonDocumentTooLarge)
		}
		d, docID, derr := document.DecodeDocument(raw, lim)
		if derr != nil {
			return w.sendDocDeadLetter(ctx, r, batchID, i, docID, raw, &document.DocError{Index: i, ID: docID, Err: derr, Raw: raw}, document.ReasonInvalidDocument)
		}
		enc, merr := document.EncodeDocument(d)
		if merr != nil {
			return fmt.Errorf("partition %d offset %d: %w: %v", r.Partition, r.Offset, ErrDeadLetterFailed, merr)
		}
		return w.sendDocDeadLetter(ctx, r, batchID, i, d.ID, enc, cause, document.ReasonBatchTooLarge)
	})
	if errors.Is(err, document.ErrMalformedBatch) { // before any document was sent
		return w.sendDeadLetter(ctx, r, fmt.Errorf("%w; %w", cause, err), document.ReasonMalformedBatch, map[string]string{document.HeaderDeadLetterKind: "record"})
	}
	return err
}

// deadLetterDoc dead-letters one document the model failed on (reason
// model_failure); an error means it was not written and nothing past its
// record may be committed.
func (w *Worker) deadLetterDoc(ctx context.Context, e *entry, cause error) error {
	raw, err := document.EncodeDocument(e.doc)
	if err != nil {
		return fmt.Errorf("partition %d offset %d: %w: %v", e.ps.p, e.rec.offset, ErrDeadLetterFailed, err)
	}
	r := queue.Record{Topic: w.cfg.Topic, Partition: e.ps.p, Offset: e.rec.offset, Time: e.rec.time}
	return w.sendDocDeadLetter(ctx, r, e.bid, e.idx, e.doc.ID, raw, cause, document.ReasonModelFailure)
}

func (w *Worker) sendDocDeadLetter(ctx context.Context, r queue.Record, batchID string, index int, id string, raw []byte, cause error, reason document.DeadLetterReason) error {
	dr := r
	dr.Value = raw
	return w.sendDeadLetter(ctx, dr, cause, reason, map[string]string{
		document.HeaderDeadLetterKind: "document", document.HeaderBatchID: batchID, document.HeaderDocIndex: strconv.Itoa(index), document.HeaderDocID: id})
}

// sendDeadLetter writes one dead letter; dead_letters_total counts only
// written ones.
func (w *Worker) sendDeadLetter(ctx context.Context, r queue.Record, cause error, reason document.DeadLetterReason, extra map[string]string) error {
	extra[document.HeaderDeadLetterReason] = string(reason)
	w.log.Warn("dead-lettering", "reason", reason, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
		"doc_id", extra[document.HeaderDocID], "bytes", len(r.Value), "err", cause)
	if w.dlq == nil {
		w.m.DeadLetters.WithLabelValues(string(reason)).Inc()
		return nil
	}
	if err := w.dlq.Send(ctx, r, cause, extra); err != nil {
		if ctx.Err() != nil {
			// Revoked or stopping: the record is not covered, the next owner re-reads it.
			return fmt.Errorf("dead letter at offset %d: %w", r.Offset, ctx.Err())
		}
		w.m.DeadLetterFailures.Inc()
		w.m.PartitionsStopped.Inc()
		w.log.Error("PARTITION STOPPED: dead-letter write failed; nothing past this record is stored or committed",
			"partition", r.Partition, "offset", r.Offset, "reason", reason, "doc_id", extra[document.HeaderDocID], "bytes", len(r.Value), "err", err)
		return fmt.Errorf("partition %d offset %d: %w: %v", r.Partition, r.Offset, ErrDeadLetterFailed, err)
	}
	w.m.DeadLetters.WithLabelValues(string(reason)).Inc()
	return nil
}
