package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nerstream/nerstream/internal/document"
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

// Group is the part of queue.Group the worker uses: commits after uploads
// (lag monitoring) and fresh high-water marks for the idle-file rule.
type Group interface {
	Commit(ctx context.Context, partition int, next int64) error
	HighWatermark(ctx context.Context, partition int) (int64, error)
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
}

func (c *Config) defaults() error {
	if c.FlushRecords <= 0 {
		c.FlushRecords = 250
	}
	if c.FlushBytes <= 0 {
		c.FlushBytes = 32 << 20
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Minute
	}
	if c.IdleGrace <= 0 {
		c.IdleGrace = 10 * time.Second
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
type Worker struct {
	cfg     Config
	ann     *ner.Annotator
	store   Store
	group   Group
	dlq     DeadLetterer
	m       *metrics.Metrics
	log     *slog.Logger
	in      chan ner.Doc
	uploads chan upload
	now     func() time.Time

	mu       sync.Mutex
	parts    map[int]*partState
	stopping bool           // Stop was called: Records returns at once
	inflight sync.WaitGroup // Records calls in progress
	seq      atomic.Uint64
	// Uploaded, when set, is called after each successful upload (tests).
	Uploaded func(k sink.Key, rows int)
}

// New creates a Worker. The annotator must pack per document (see package doc).
func New(cfg Config, ann *ner.Annotator, store Store, dlq DeadLetterer, m *metrics.Metrics, log *slog.Logger) (*Worker, error) {
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
		in: make(chan ner.Doc, 256), uploads: make(chan upload, 64), now: time.Now, parts: map[int]*partState{}}, nil
}

// SetGroup sets the consumer group (created after the Worker because it
// needs the Worker as its handler). Without a group nothing is committed and
// idle files are never closed.
func (w *Worker) SetGroup(g Group) { w.group = g }

type partState struct {
	p       int
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
}

type recInfo struct {
	offset int64
	time   time.Time
	size   int
}

// Items carried through the annotator as ner.Doc.Meta.
type (
	docItem struct {
		ps  *partState
		rec *recInfo
		doc document.Document
	}
	recEnd struct {
		ps  *partState
		rec *recInfo
	}
	idleTick struct {
		ps  *partState
		now time.Time // taken before asking for hwm
		hwm int64     // the partition's high-water mark as of now
	}
)

type upload struct {
	ps   *partState
	key  sink.Key
	rows []sink.Row
}

// Assigned implements queue.Handler: resume after the last offset in storage.
func (w *Worker) Assigned(ctx context.Context, partition int, committed int64) (int64, error) {
	last, ok, err := w.store.LastOffset(ctx, w.cfg.ModelDir, w.cfg.Topic, partition)
	if err != nil {
		return 0, fmt.Errorf("partition %d: read progress from storage: %w", partition, err)
	}
	ps := &partState{p: partition, id: w.seq.Add(1)}
	w.mu.Lock()
	if old := w.parts[partition]; old != nil {
		old.revoked.Store(true)
	}
	w.parts[partition] = ps
	w.mu.Unlock()
	w.m.Partitions.Inc()
	start := queue.UseDefault
	if ok {
		start = last + 1
	}
	w.log.Info("partition assigned", "partition", partition, "committed", committed, "stored_last", last, "stored", ok, "start", start)
	return start, nil
}

// Revoked implements queue.Handler: drop the partition's open file.
func (w *Worker) Revoked(partition int) {
	w.mu.Lock()
	if ps := w.parts[partition]; ps != nil {
		ps.revoked.Store(true)
		delete(w.parts, partition)
		w.m.Partitions.Dec()
	}
	w.mu.Unlock()
	w.log.Info("partition revoked", "partition", partition)
}

// Records implements queue.Handler: decode and feed the annotator.
func (w *Worker) Records(ctx context.Context, partition int, recs []queue.Record) error {
	w.mu.Lock()
	ps := w.parts[partition]
	if w.stopping || ps == nil {
		w.mu.Unlock()
		return nil
	}
	w.inflight.Add(1)
	w.mu.Unlock()
	defer w.inflight.Done()
	send := func(d ner.Doc) error {
		select {
		case w.in <- d:
			return nil
		case <-ctx.Done():
			return nil // revoked: the next owner reprocesses
		}
	}
	if len(recs) == 0 {
		if w.group == nil {
			return nil
		}
		now := w.now()
		hwm, err := w.group.HighWatermark(ctx, partition)
		if err != nil {
			w.log.Warn("idle check: high-water mark unavailable", "partition", partition, "err", err)
			return nil
		}
		return send(ner.Doc{Meta: idleTick{ps: ps, now: now, hwm: hwm}})
	}
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
		if b != nil {
			for _, d := range b.Documents {
				text := d.Content()
				if d.Op == document.OpDelete {
					text = ""
				}
				if err := send(ner.Doc{ID: d.ID, Text: text, Meta: docItem{ps: ps, rec: ri, doc: d}}); err != nil {
					return err
				}
			}
		}
		if err := send(ner.Doc{Meta: recEnd{ps: ps, rec: ri}}); err != nil {
			return err
		}
	}
	return nil
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
	out := make(chan ner.Result, 256)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := w.ann.Run(ctx, w.in, out); err != nil {
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

func (w *Worker) dispatch(out <-chan ner.Result) {
	for r := range out {
		switch it := r.Doc.Meta.(type) {
		case docItem:
			if it.ps.revoked.Load() {
				continue
			}
			it.ps.recRows = append(it.ps.recRows, w.rows(it, r)...)
			w.m.Docs.WithLabelValues(string(it.doc.Op)).Inc()
			for _, c := range r.Chunks {
				w.m.Chunks.WithLabelValues(c.Label).Inc()
			}
		case recEnd:
			ps := it.ps
			if ps.revoked.Load() {
				continue
			}
			bucket := it.rec.time.UnixMilli() / w.cfg.FlushInterval.Milliseconds()
			if ps.file != nil && bucket != ps.file.bucket {
				w.rotate(ps)
			}
			if ps.file == nil {
				ps.file = &openFile{first: it.rec.offset, bucket: bucket}
			}
			f := ps.file
			f.rows = append(f.rows, ps.recRows...)
			ps.recRows = ps.recRows[:0]
			f.last = it.rec.offset
			f.count++
			f.bytes += int64(it.rec.size)
			if f.count >= w.cfg.FlushRecords || f.bytes >= w.cfg.FlushBytes {
				w.rotate(ps)
			}
		case idleTick:
			ps := it.ps
			if ps.revoked.Load() || ps.file == nil {
				continue
			}
			// Close only when every record produced before it.now is in the
			// file (hwm proves it) and it.now is past the bucket + grace: any
			// later record then belongs to a later bucket for every worker.
			end := time.UnixMilli((ps.file.bucket + 1) * w.cfg.FlushInterval.Milliseconds())
			if ps.file.last+1 == it.hwm && !it.now.Before(end.Add(w.cfg.IdleGrace)) {
				w.rotate(ps)
			}
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

func (w *Worker) rows(it docItem, r ner.Result) []sink.Row {
	base := sink.Row{DocID: it.doc.ID, DocVersion: int32(it.doc.Version), ModelName: w.cfg.ModelName, ModelVersion: w.cfg.ModelVersion,
		Topic: w.cfg.Topic, Partition: int32(it.ps.p), Offset: it.rec.offset, Op: sink.OpUpsert, ChunkIndex: sink.DocumentMarker}
	if it.doc.Op == document.OpDelete {
		base.Op = sink.OpDelete
		return []sink.Row{base}
	}
	rows := make([]sink.Row, 0, 1+len(r.Chunks))
	rows = append(rows, base)
	for _, c := range r.Chunks {
		row := base
		row.ChunkIndex, row.Begin, row.End = int32(c.ChunkIndex), int32(c.Begin), int32(c.End)
		row.Text, row.Label, row.Confidence, row.SentenceIndex = c.Text, c.Label, float32(c.Confidence), int32(c.Sentence)
		rows = append(rows, row)
	}
	return rows
}

func (w *Worker) rotate(ps *partState) {
	f := ps.file
	ps.file = nil
	k := sink.Key{Model: w.cfg.ModelDir, Topic: w.cfg.Topic, Partition: ps.p, First: f.first, Last: f.last}
	w.uploads <- upload{ps: ps, key: k, rows: f.rows}
}

func (w *Worker) uploader(ctx context.Context) error {
	for u := range w.uploads {
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
		if w.Uploaded != nil {
			w.Uploaded(u.key, len(u.rows))
		}
		w.log.Info("uploaded", "key", u.key.String(), "rows", len(u.rows), "records", u.key.Last-u.key.First+1)
		if w.group != nil && !u.ps.revoked.Load() {
			if err := w.group.Commit(ctx, u.key.Partition, u.key.Last+1); err != nil && !errors.Is(err, queue.ErrNotOwner) {
				w.log.Warn("commit failed (storage stays the truth)", "partition", u.key.Partition, "offset", u.key.Last+1, "err", err)
			}
		}
	}
	return nil
}
