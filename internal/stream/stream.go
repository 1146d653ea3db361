package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/enrich"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/ner"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
)

// Store is the part of sink.Store the worker uses.
type Store interface {
	Upload(ctx context.Context, k sink.Key, rows []sink.Row) error
	LastOffset(ctx context.Context, model, topic string, partition int) (int64, bool, error)
}

// Annotator is the part of *ner.Annotator the worker uses. Run must send
// one Result per Doc, in input order, with Doc.Meta carried through.
type Annotator interface {
	Run(ctx context.Context, in <-chan ner.Doc, out chan<- ner.Result) error
}

// DeadLetterer receives poison input (queue.DeadLetter).
type DeadLetterer interface {
	Send(ctx context.Context, rec queue.Record, cause error, extra map[string]string) error
}

// Config tunes file rotation and identifies the output.
type Config struct {
	Topic         string
	ModelName     string        // bundle name
	ModelVersion  string        // full content hash
	ModelDir      string        // "<name>-<version12>", the output directory
	FlushRecords  int           // records per file (default 250)
	FlushBytes    int64         // record-value bytes per file (default 32 MiB)
	FlushInterval time.Duration // record-timestamp bucket width (default 1m)
	IdleGrace     time.Duration // wait past a bucket's end before closing an idle file (default 10s)
	Limits        document.Limits
	Enrich        *enrich.Enricher // abbreviations, gene links, passages of each chunk (nil: passages only)
}

// Defaults of [Config], also the defaults of `worker run`'s flags.
const (
	DefaultFlushRecords  = 250
	DefaultFlushBytes    = 32 << 20
	DefaultFlushInterval = time.Minute
	DefaultIdleGrace     = 10 * time.Second
)

func (c *Config) defaults() error {
	if c.FlushRecords <= 0 {
		c.FlushRecords = DefaultFlushRecords
	}
	if c.FlushBytes <= 0 {
		c.FlushBytes = DefaultFlushBytes
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.IdleGrace <= 0 {
		c.IdleGrace = DefaultIdleGrace
	}
	if c.Limits == (document.Limits{}) {
		c.Limits = document.DefaultLimits()
	}
	if c.Topic == "" || c.ModelDir == "" {
		return errors.New("stream: topic and model dir are required")
	}
	return nil
}

// Worker implements queue.Handler and owns the annotate → file → upload path.
// It is complete when New returns: everything it needs from the consumer
// group arrives with each partition's queue.Partition handle.
type Worker struct {
	cfg     Config
	ann     Annotator
	store   Store
	dlq     DeadLetterer
	m       *metrics.Metrics
	log     *slog.Logger
	in      chan ner.Item[entry]
	uploads chan upload
	now     func() time.Time

	// sendMu makes the entries of one record (or one marker) contiguous in
	// the annotator's input: record packing groups the documents between two
	// markers, so another partition's entries must never fall in between.
	sendMu sync.Mutex
	quit   chan struct{} // closed when Run ends

	mu       sync.Mutex
	parts    map[int]*partState
	stopping bool           // Stop was called: Records returns at once
	inflight sync.WaitGroup // Records calls in progress
	seq      atomic.Uint64
}

// New creates a Worker. The annotator must pack per document (see package doc).
func New(cfg Config, ann Annotator, store Store, dlq DeadLetterer, m *metrics.Metrics, log *slog.Logger) (*Worker, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if m == nil {
		m = metrics.New()
	}
	if log == nil {
		log = slog.Default()
	}
	return &Worker{cfg: cfg, ann: ann, store: store, dlq: dlq, m: m, log: log,
		in: make(chan ner.Item[entry], 256), uploads: make(chan upload, 64), now: time.Now, parts: map[int]*partState{},
		quit: make(chan struct{})}, nil
}

type partState struct {
	p       int
	part    queue.Partition // commits and high-water marks
	id      uint64
	revoked atomic.Bool
	// owned by the dispatcher goroutine:
	file    *openFile
	recRows []sink.Row
}

type openFile struct {
	first, last int64
	count       int
	bytes       int64
	bucket      int64
	rows        []sink.Row
	heldWarned  bool // checkHeld reported this file
}

type recInfo struct {
	offset int64
	time   time.Time
	size   int
}

// entry is what the worker sends through the annotator (ner.Ordered): a
// document of a record, or a marker. ner.Ordered emits entries in the order
// they were sent, which the dispatcher relies on: a record's end marker
// follows all of its documents, and an idle check or barrier follows
// everything sent before it.
type entry struct {
	kind entryKind
	ps   *partState
	rec  *recInfo          // entryDoc, entryRecordEnd
	doc  document.Document // entryDoc
	bid  string            // entryDoc: its batch's id
	idx  int               // entryDoc: its index in the batch
	now  time.Time         // entryIdle: taken before asking for hwm
	hwm  int64             // entryIdle: the partition's high-water mark as of now
	done chan struct{}     // entryBarrier: closed once everything before it is uploaded
}

type entryKind uint8

const (
	entryDoc       entryKind = iota // annotate doc; its rows join the record's
	entryRecordEnd                  // the record's documents are done: add them to the open file
	entryIdle                       // close the idle file if the high-water mark proves it complete
	entryBarrier                    // close done after every earlier upload finished
	entryAbort                      // a record cut short by a revocation: drop its rows, end its packing group
)

type upload struct {
	ps      *partState
	key     sink.Key
	rows    []sink.Row
	barrier chan struct{} // instead of a file: close it
	dead    *entry        // instead of a file: dead-letter this document (the model failed on it)
	cause   error
}

// Assigned implements queue.Handler: resume after the last offset in storage.
func (w *Worker) Assigned(ctx context.Context, p queue.Partition, committed int64) (int64, error) {
	partition := p.ID()
	last, ok, err := w.store.LastOffset(ctx, w.cfg.ModelDir, w.cfg.Topic, partition)
	if err != nil {
		return 0, fmt.Errorf("partition %d: read progress from storage: %w", partition, err)
	}
	ps := &partState{p: partition, part: p, id: w.seq.Add(1)}
	w.mu.Lock()
	if old := w.parts[partition]; old != nil {
		old.revoked.Store(true)
	}
	w.parts[partition] = ps
	w.mu.Unlock()
	w.m.Partitions.Inc()
	// Export the partition's stuck and held gauges from the start (0), so
	// alerts see the series before anything goes wrong; the group's stuck
	// reporter and checkHeld raise them.
	w.m.SetStuck(partition, 0, false, nil)
	w.m.HeldRecords.WithLabelValues(strconv.Itoa(partition)).Set(0)
	start := queue.UseDefault
	if ok {
		start = last + 1
	}
	w.log.Info("partition assigned", "partition", partition, "committed", committed, "stored_last", last, "stored", ok, "start", start)
	return start, nil
}

// Revoked implements queue.Handler: drop the partition's open file.
func (w *Worker) Revoked(p queue.Partition) {
	partition := p.ID()
	w.mu.Lock()
	if ps := w.parts[partition]; ps != nil {
		ps.revoked.Store(true)
		delete(w.parts, partition)
		w.m.Partitions.Dec()
	}
	w.mu.Unlock()
	// This worker holds nothing of the partition any more.
	w.m.HeldRecords.WithLabelValues(strconv.Itoa(partition)).Set(0)
	w.log.Info("partition revoked", "partition", partition)
}

// Records implements queue.Handler: decode and feed the annotator.
func (w *Worker) Records(ctx context.Context, p queue.Partition, recs []queue.Record) error {
	partition := p.ID()
	w.mu.Lock()
	ps := w.parts[partition]
	if w.stopping || ps == nil {
		w.mu.Unlock()
		return nil
	}
	w.inflight.Add(1)
	w.mu.Unlock()
	defer w.inflight.Done()
	if len(recs) == 0 {
		now := w.now()
		hwm, err := p.HighWatermark(ctx)
		if err != nil {
			w.log.Warn("idle check: high-water mark unavailable", "partition", partition, "err", err)
			return nil
		}
		w.send(ctx, []ner.Item[entry]{{Marker: true, Meta: entry{kind: entryIdle, ps: ps, now: now, hwm: hwm}}})
		return nil
	}
	var items []ner.Item[entry]
	for _, r := range recs {
		if ctx.Err() != nil {
			return nil
		}
		w.m.Records.Inc()
		ri := &recInfo{offset: r.Offset, time: r.Time, size: len(r.Value)}
		b, err := document.DecodeBatch(r.Value, w.cfg.Limits)
		if b, err = w.rejects(ctx, r, b, err); err != nil {
			return err // a dead letter was not written: stop here, commit nothing past it
		}
		items = items[:0]
		if b != nil {
			for i, d := range b.Documents {
				text := d.Content()
				if d.Op == document.OpDelete {
					text = ""
				}
				items = append(items, ner.Item[entry]{Doc: ner.Doc{ID: d.ID, Text: text}, Meta: entry{kind: entryDoc, ps: ps, rec: ri, doc: d, bid: b.ID, idx: i}})
			}
		}
		items = append(items, ner.Item[entry]{Marker: true, Meta: entry{kind: entryRecordEnd, ps: ps, rec: ri}})
		if !w.send(ctx, items) {
			return nil
		}
	}
	return nil
}

// send queues items for the annotator, contiguously; false when ctx ended
// first (the partition was revoked: the next owner reprocesses the record).
// A record cut short is closed with an abort marker, so that its documents
// neither reach a file nor share a packing group with the next record.
func (w *Worker) send(ctx context.Context, items []ner.Item[entry]) bool {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	for i, it := range items {
		select {
		case w.in <- it:
		case <-ctx.Done():
			if i > 0 {
				select {
				case w.in <- ner.Item[entry]{Marker: true, Meta: entry{kind: entryAbort, ps: it.Meta.ps}}:
				case <-w.quit:
				}
			}
			return false
		}
	}
	return true
}

// revokedDoc says whether e is a document of a revoked partition: ner.Ordered
// then keeps it from the model, so that a worker that lost a partition stops
// annotating its queued documents at once (only those the annotator already
// holds are finished, and dropped by dispatch).
func revokedDoc(e entry) bool { return e.kind == entryDoc && e.ps.revoked.Load() }

// barrier returns once every entry sent before it has been dispatched and
// every file cut before it uploaded (or ctx ends): an event to wait on
// instead of a clock. Call it only while Run runs and before Stop.
func (w *Worker) barrier(ctx context.Context) error {
	done := make(chan struct{})
	if !w.send(ctx, []ner.Item[entry]{{Marker: true, Meta: entry{kind: entryBarrier, done: done}}}) {
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run runs the annotator, the dispatcher and the uploader until Stop is
// called (closing the input) and everything in flight is drained, or a fatal
// error (model failure, upload failure) happens.
//
// A fatal error cancels the annotator at once; the caller must then stop the
// consumer group (Records calls return when their context ends).
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer close(w.quit)
	out := make(chan ner.Annotated[entry], 256)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := ner.Ordered(ctx, w.ann.Run, w.in, out, ner.SkipIf(revokedDoc)); err != nil {
			cancel(fmt.Errorf("annotate: %w", err))
		}
	}()
	go func() {
		defer wg.Done()
		if err := w.uploader(ctx); err != nil {
			cancel(err)
		}
	}()
	w.dispatch(out)
	close(w.uploads)
	wg.Wait()
	return context.Cause(ctx)
}

// Stop closes the input once the Records calls in progress have returned;
// later Records calls return at once without reading their records. Cancel
// the consumer group's context first (Records calls blocked on a full
// pipeline return when it ends). Run then drains and returns.
func (w *Worker) Stop() {
	w.mu.Lock()
	already := w.stopping
	w.stopping = true
	w.mu.Unlock()
	if already {
		return
	}
	w.inflight.Wait()
	close(w.in)
}

func (w *Worker) dispatch(out <-chan ner.Annotated[entry]) {
	for a := range out {
		e := a.Meta
		if e.kind == entryBarrier {
			w.uploads <- upload{barrier: e.done}
			continue
		}
		ps := e.ps
		if a.Skipped || ps.revoked.Load() {
			continue
		}
		switch e.kind {
		case entryDoc:
			if err := a.Result.Err; err != nil {
				// The model failed on this document (panicked twice): dead-letter
				// it through the uploader, which runs in order, so that it is
				// written before any file that commits past its record.
				w.uploads <- upload{ps: ps, dead: &e, cause: err}
				continue
			}
			ps.recRows = append(ps.recRows, w.rows(ps, e, a.Result)...)
			w.m.Docs.WithLabelValues(string(e.doc.Op)).Inc()
			for _, c := range a.Result.Chunks {
				w.m.Chunks.WithLabelValues(c.Label).Inc()
			}
		case entryRecordEnd:
			w.endRecord(ps, e.rec)
		case entryAbort:
			ps.recRows = ps.recRows[:0]
		case entryIdle:
			if ps.file == nil {
				continue
			}
			// Close only when every record produced before e.now is in the
			// file (hwm proves it) and e.now is past the bucket + grace: any
			// later record then belongs to a later bucket for every worker.
			end := time.UnixMilli((ps.file.bucket + 1) * w.cfg.FlushInterval.Milliseconds())
			if ps.file.last+1 == e.hwm && !e.now.Before(end.Add(w.cfg.IdleGrace)) {
				w.rotate(ps)
				continue
			}
			w.checkHeld(ps, e.now, e.hwm, end)
		}
	}
	// Shutdown: partially filled files are dropped (see package doc).
	w.mu.Lock()
	for _, ps := range w.parts {
		if ps.file != nil {
			w.log.Info("dropping partial file at shutdown; the next owner re-reads it", "partition", ps.p,
				"first", ps.file.first, "last", ps.file.last, "records", ps.file.count)
		}
	}
	w.mu.Unlock()
}

// endRecord adds the record's rows to the partition's open file, cutting
// files where the package doc says.
func (w *Worker) endRecord(ps *partState, rec *recInfo) {
	bucket := rec.time.UnixMilli() / w.cfg.FlushInterval.Milliseconds()
	if ps.file != nil && bucket != ps.file.bucket {
		w.rotate(ps)
	}
	if ps.file == nil {
		ps.file = &openFile{first: rec.offset, bucket: bucket}
	}
	f := ps.file
	f.rows = append(f.rows, ps.recRows...)
	ps.recRows = ps.recRows[:0]
	f.last = rec.offset
	f.count++
	f.bytes += int64(rec.size)
	if f.count >= w.cfg.FlushRecords || f.bytes >= w.cfg.FlushBytes {
		w.rotate(ps)
	}
}

func (w *Worker) rows(ps *partState, e entry, r ner.Result) []sink.Row {
	base := sink.Row{DocID: e.doc.ID, DocVersion: int32(e.doc.Version), ModelName: w.cfg.ModelName, ModelVersion: w.cfg.ModelVersion,
		Topic: w.cfg.Topic, Partition: int32(ps.p), Offset: e.rec.offset, Op: sink.OpUpsert, ChunkIndex: sink.DocumentMarker}
	if e.doc.Op == document.OpDelete {
		base.Op = sink.OpDelete
		return []sink.Row{base}
	}
	rows := make([]sink.Row, 0, 1+len(r.Chunks))
	rows = append(rows, base)
	for _, c := range w.cfg.Enrich.Apply(r.Doc.Text, r.Chunks, enrich.Passages(e.doc)) {
		row := base
		row.ChunkIndex, row.Begin, row.End = int32(c.ChunkIndex), int32(c.Begin), int32(c.End)
		row.Text, row.Label, row.Confidence, row.SentenceIndex = c.Text, c.Label, float32(c.Confidence), int32(c.Sentence)
		enrich.Fill(&row, c)
		rows = append(rows, row)
	}
	return rows
}

// checkHeld reports an idle partition whose open file cannot be closed
// because its time bucket starts in the future: the records' timestamps are
// ahead of this worker's clock (by more than the grace). Closing it by the
// clock would let two owners cut the file at different offsets, so it stays
// open until the next record (a different bucket) or the bucket's end; the
// gauge and one warning per file make the wait visible.
func (w *Worker) checkHeld(ps *partState, now time.Time, hwm int64, end time.Time) {
	f := ps.file
	start := end.Add(-w.cfg.FlushInterval)
	if f.last+1 != hwm || !now.Add(w.cfg.IdleGrace).Before(start) {
		return
	}
	w.m.HeldRecords.WithLabelValues(strconv.Itoa(ps.p)).Set(float64(f.count))
	if !f.heldWarned {
		f.heldWarned = true
		w.log.Warn("records held: their timestamps are in the future (producer clock ahead?); the file closes at the partition's next record or when its time bucket ends",
			"partition", ps.p, "first", f.first, "last", f.last, "records", f.count, "bucket_start", start.UTC(), "ahead", start.Sub(now).Round(time.Second))
	}
}

func (w *Worker) rotate(ps *partState) {
	f := ps.file
	ps.file = nil
	if f.heldWarned {
		w.m.HeldRecords.WithLabelValues(strconv.Itoa(ps.p)).Set(0)
	}
	k := sink.Key{Model: w.cfg.ModelDir, Topic: w.cfg.Topic, Partition: ps.p, First: f.first, Last: f.last}
	w.uploads <- upload{ps: ps, key: k, rows: f.rows}
}

func (w *Worker) uploader(ctx context.Context) error {
	for u := range w.uploads {
		if u.barrier != nil {
			close(u.barrier)
			continue
		}
		if u.dead != nil {
			if err := w.deadLetterDoc(ctx, u.dead, u.cause); err != nil {
				go func() {
					for range w.uploads {
					}
				}()
				return err
			}
			continue
		}
		t0 := time.Now()
		// Upload even when the partition was revoked meanwhile: the file's
		// boundary is final, the new owner writes the same key and rows.
		if err := w.store.Upload(ctx, u.key, u.rows); err != nil {
			w.uploadFailed(ctx, u, err)
			// Drain so the dispatcher never blocks, then fail: a later file
			// must not be written after a missing one.
			go func() {
				for range w.uploads {
				}
			}()
			return fmt.Errorf("upload %s: %w", u.key, err)
		}
		w.m.Uploads.Inc()
		w.m.UploadRows.Add(float64(len(u.rows)))
		w.m.UploadSeconds.Observe(time.Since(t0).Seconds())
		w.log.Info("uploaded", "key", u.key.String(), "rows", len(u.rows), "records", u.key.Last-u.key.First+1)
		if !u.ps.revoked.Load() {
			if err := u.ps.part.Commit(ctx, u.key.Last+1); err != nil && !errors.Is(err, queue.ErrNotOwner) {
				w.log.Warn("commit failed (storage stays the truth)", "partition", u.key.Partition, "offset", u.key.Last+1, "err", err)
			}
		}
	}
	return nil
}

var (
	_ queue.Handler = (*Worker)(nil)
	_ Annotator     = (*ner.Annotator)(nil)
)
