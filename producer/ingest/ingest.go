package ingest

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/pubmed"
	"github.com/nerstream/nerstream/internal/queue"
)

// Publisher is what ingest needs from Kafka: a synchronous publish that
// returns once the messages are acknowledged. *queue.Publisher satisfies it.
type Publisher interface {
	Publish(ctx context.Context, msgs ...queue.Message) error
}

// Format is the kind of input files.
type Format string

const (
	// FormatPubMed is PubMed/MEDLINE XML (.xml or .xml.gz).
	FormatPubMed Format = "pubmed"
	// FormatJSONL is JSON lines, one document per line (.jsonl, .jsonl.gz,
	// .ndjson); see document.ScanJSONL.
	FormatJSONL Format = "jsonl"
)

// Message header names set on every published batch.
const (
	HeaderBatchID       = "nerstream-batch-id"
	HeaderSchemaVersion = "nerstream-schema-version"
	HeaderSourceFile    = "nerstream-source-file"
	HeaderSourceRange   = "nerstream-source-range" // "first-last"
	HeaderDocs          = "nerstream-docs"
	HeaderContentType   = "content-type"
)

// Progress receives progress events; the producer's command renders them as
// a progress bar on a terminal. Implementations need not be safe for
// concurrent use: Run serialises the calls.
type Progress interface {
	// Start announces the files and their total size in bytes.
	Start(files int, bytes int64)
	// File announces that the named file is being read (index from 0).
	File(index int, name string)
	// Read reports n more input bytes read (compressed, as on disk).
	Read(n int64)
	// Docs reports n more documents published.
	Docs(n int)
	// Finish ends the progress display.
	Finish()
}

// Summary counts what Run did.
type Summary struct {
	// Files is the number of input files found; Published, Skipped, Resumed
	// and Failed split them (a resumed file is also counted as published
	// when it completes).
	Files, Published, Skipped, Resumed, Failed int
	// Docs and Batches are what was published in this run.
	Docs, Batches int64
	// AlreadyPublished counts documents skipped because an earlier run had
	// published them (resumed files).
	AlreadyPublished int64
	// Rejected counts rejected records and unreadable regions.
	Rejected int64
	// Bytes is the number of input bytes read.
	Bytes int64
	// Elapsed is the wall time of Run.
	Elapsed time.Duration
}

// Option configures Run.
type Option func(*options)

type options struct {
	batchDocs, batchBytes, maxDocBytes int
	inflight                           int
	topic                              string
	rejects                            *document.RejectSink
	manifest                           *Manifest
	progress                           Progress
	log                                *slog.Logger
	verify                             bool
}

// WithBatchDocs sets the maximum documents per batch (default
// document.DefaultBatchDocs).
func WithBatchDocs(n int) Option { return func(o *options) { o.batchDocs = n } }

// WithBatchBytes sets the maximum encoded bytes per batch (default
// document.DefaultMaxBatchBytes).
func WithBatchBytes(n int) Option { return func(o *options) { o.batchBytes = n } }

// WithMaxDocBytes sets the largest document accepted (default
// document.DefaultMaxDocBytes); larger ones are rejected.
func WithMaxDocBytes(n int) Option { return func(o *options) { o.maxDocBytes = n } }

// WithInflight sets how many batches are handed to one Publish call (default
// 16). The manifest advances after each call.
func WithInflight(n int) Option { return func(o *options) { o.inflight = n } }

// WithTopic records the topic name in the manifest entries.
func WithTopic(t string) Option { return func(o *options) { o.topic = t } }

// WithRejects sets the sink for rejected records (default: counted only).
func WithRejects(s *document.RejectSink) Option { return func(o *options) { o.rejects = s } }

// WithManifest tracks progress in m: finished files are skipped and
// half-published ones resumed (default: an in-memory manifest).
func WithManifest(m *Manifest) Option { return func(o *options) { o.manifest = m } }

// WithProgress reports progress to p.
func WithProgress(p Progress) Option { return func(o *options) { o.progress = p } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithVerify makes Run hash finished files too and republish those whose
// SHA-256 changed although their size did not (default: a finished file of
// the same size is skipped without reading it).
func WithVerify(v bool) Option { return func(o *options) { o.verify = v } }

// syncProgress serialises calls to a Progress: the reading and the
// publishing goroutines both report.
type syncProgress struct {
	mu sync.Mutex
	p  Progress
}

func (s *syncProgress) Start(files int, bytes int64) {
	s.mu.Lock()
	s.p.Start(files, bytes)
	s.mu.Unlock()
}
func (s *syncProgress) File(i int, name string) { s.mu.Lock(); s.p.File(i, name); s.mu.Unlock() }
func (s *syncProgress) Read(n int64)            { s.mu.Lock(); s.p.Read(n); s.mu.Unlock() }
func (s *syncProgress) Docs(n int)              { s.mu.Lock(); s.p.Docs(n); s.mu.Unlock() }
func (s *syncProgress) Finish()                 { s.mu.Lock(); s.p.Finish(); s.mu.Unlock() }

type noProgress struct{}

func (noProgress) Start(int, int64) {}
func (noProgress) File(int, string) {}
func (noProgress) Read(int64)       {}
func (noProgress) Docs(int)         {}
func (noProgress) Finish()          {}

// Inputs expands files and directories into the input files of format, in
// order: a directory contributes its regular files with the format's
// extensions (not recursively), sorted by name; a file is taken as given.
// Two inputs with the same base name are an error, because the base name
// identifies a file in the manifest and in batch ids.
func Inputs(format Format, args []string) ([]string, error) {
	files, _, err := InputsSkipped(format, args)
	return files, err
}

// InputsSkipped is Inputs that also returns the regular files of the given
// directories that were skipped for lacking the format's extension, so the
// caller can say so.
func InputsSkipped(format Format, args []string) (files, skipped []string, err error) {
	files, err = inputs(format, args, func(path string) { skipped = append(skipped, path) })
	return files, skipped, err
}

func inputs(format Format, args []string, skip func(string)) ([]string, error) {
	exts := map[Format][]string{FormatPubMed: {".xml", ".xml.gz"}, FormatJSONL: {".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"}}[format]
	if exts == nil {
		return nil, fmt.Errorf("unknown input format %q", format)
	}
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		var found []string
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			if !slices.ContainsFunc(exts, func(x string) bool { return strings.HasSuffix(e.Name(), x) }) {
				skip(filepath.Join(a, e.Name()))
				continue
			}
			found = append(found, filepath.Join(a, e.Name()))
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	seen := map[string]string{}
	for _, f := range files {
		b := filepath.Base(f)
		if prev, dup := seen[b]; dup {
			return nil, fmt.Errorf("input: %s and %s have the same base name %s", prev, f, b)
		}
		seen[b] = f
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("input: no %s files in %s", format, strings.Join(args, " "))
	}
	return files, nil
}

// Run publishes the documents of files (see Inputs) through pub.
//
// Files the manifest lists as done (same size) are skipped; a file with an
// unfinished entry and the same SHA-256 is resumed after its last
// acknowledged batch, with the batch settings recorded in the entry; a file
// whose content changed is published again from the start. Rejected records
// go to the rejects sink and do not stop a file.
//
// A file that cannot be read to its end (broken XML with no record after
// it, a corrupt gzip stream, an I/O error) keeps the batches published so
// far, is marked with its error in the manifest, and Run goes on with the
// next file; Run then returns an error naming every such file. A publish or
// manifest error, or ctx ending, stops Run at once; the manifest then holds
// the last acknowledged position, so a rerun resumes there.
func Run(ctx context.Context, pub Publisher, format Format, files []string, opts ...Option) (Summary, error) {
	start := time.Now()
	o := options{batchDocs: document.DefaultBatchDocs, batchBytes: document.DefaultMaxBatchBytes,
		maxDocBytes: document.DefaultMaxDocBytes, inflight: 16}
	for _, opt := range opts {
		opt(&o)
	}
	if o.batchDocs <= 0 || o.batchBytes <= 0 || o.maxDocBytes <= 0 || o.inflight <= 0 {
		return Summary{}, fmt.Errorf("batch settings must be positive (docs %d, bytes %d, doc bytes %d, inflight %d)", o.batchDocs, o.batchBytes, o.maxDocBytes, o.inflight)
	}
	if o.manifest == nil {
		o.manifest = NewManifest(nil)
	}
	if o.rejects == nil {
		o.rejects = document.NewRejectSink(nil)
	}
	if o.progress == nil {
		o.progress = noProgress{}
	}
	o.progress = &syncProgress{p: o.progress}
	if o.log == nil {
		o.log = slog.Default()
	}
	if format != FormatPubMed && format != FormatJSONL {
		return Summary{}, fmt.Errorf("unknown input format %q", format)
	}
	r := &runner{o: o, pub: pub, format: format}
	r.sum.Files = len(files)

	// Plan: which files to read, and their total size for the progress bar.
	plans := make([]plan, 0, len(files))
	var total int64
	for _, f := range files {
		p, err := r.plan(ctx, f)
		if err != nil {
			return r.finish(start), err
		}
		if p.skip {
			r.sum.Skipped++
			o.log.Debug("already published", "file", p.entry.Name, "batches", p.entry.Batches, "docs", p.entry.Docs)
			continue
		}
		plans = append(plans, p)
		total += p.size
	}
	o.progress.Start(len(plans), total)
	defer o.progress.Finish()
	var failed []error
	for i, p := range plans {
		o.progress.File(i, p.entry.Name)
		err := r.file(ctx, p)
		var fe *fileError
		if errors.As(err, &fe) {
			r.sum.Failed++
			failed = append(failed, fe.err)
			o.log.Error("file not read to its end", "file", p.entry.Name, "err", fe.err)
			continue
		}
		if err != nil {
			return r.finish(start), err
		}
		r.sum.Published++
	}
	if len(failed) > 0 {
		return r.finish(start), fmt.Errorf("%d file(s) could not be read to the end: %w", len(failed), errors.Join(failed...))
	}
	return r.finish(start), nil
}

type runner struct {
	o      options
	pub    Publisher
	format Format
	sum    Summary
}

func (r *runner) finish(start time.Time) Summary {
	r.sum.Elapsed = time.Since(start)
	return r.sum
}

// plan is what to do with one file.
type plan struct {
	path  string
	size  int64
	skip  bool
	entry FileEntry // the entry to continue (LastIndex -1 for a fresh start)
}

func (r *runner) plan(ctx context.Context, path string) (plan, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return plan{}, fmt.Errorf("input: %w", err)
	}
	name := filepath.Base(path)
	p := plan{path: path, size: fi.Size()}
	old, ok := r.o.manifest.Entry(name)
	if ok && old.Done && old.Size == fi.Size() && !r.o.verify {
		p.skip, p.entry = true, old
		return p, nil
	}
	sum, err := hashFile(ctx, path)
	if err != nil {
		return plan{}, err
	}
	fresh := FileEntry{Name: name, Size: fi.Size(), SHA256: sum, Format: string(r.format), Topic: r.o.topic,
		BatchDocs: r.o.batchDocs, BatchBytes: r.o.batchBytes, LastIndex: -1, Started: time.Now().UTC()}
	switch {
	case !ok:
		p.entry = fresh
	case old.SHA256 == sum && old.Size == fi.Size() && old.Format == string(r.format):
		if old.Done {
			p.skip, p.entry = true, old
			return p, nil
		}
		p.entry = old
		p.entry.Error = ""
		if old.BatchDocs != r.o.batchDocs || old.BatchBytes != r.o.batchBytes {
			r.o.log.Warn("resuming with the batch settings of the first run, so batch ids stay stable",
				"file", name, "batch_docs", old.BatchDocs, "batch_bytes", old.BatchBytes)
		}
	default:
		r.o.log.Warn("file changed since it was published; publishing it again from the start",
			"file", name, "old_sha256", old.SHA256, "sha256", sum, "old_size", old.Size, "size", fi.Size())
		p.entry = fresh
	}
	return p, nil
}

func hashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("input: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// fileError marks an input that could not be read to its end.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }

// progressReader reports bytes read to the progress display.
type progressReader struct {
	r   io.Reader
	p   Progress
	n   int64
	sum *Summary
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.n += int64(n)
	pr.sum.Bytes += int64(n)
	pr.p.Read(int64(n))
	return n, err
}

// file publishes one file from p.entry's position.
func (r *runner) file(ctx context.Context, p plan) error {
	e := p.entry
	resumed := e.LastIndex >= 0
	if resumed {
		r.sum.Resumed++
		r.o.log.Info("resuming file", "file", e.Name, "after_index", e.LastIndex, "batches", e.Batches)
	}
	f, err := os.Open(p.path)
	if err != nil {
		return &fileError{fmt.Errorf("open %s: %w", p.path, err)}
	}
	defer f.Close()
	in := &progressReader{r: f, p: r.o.progress, sum: &r.sum}
	rejectsBefore := r.o.rejects.Count()

	b := document.NewBatcher(e.Name, document.WithMaxDocs(e.BatchDocs), document.WithMaxBytes(e.BatchBytes),
		document.WithMaxDocBytes(r.o.maxDocBytes))

	// Parsing and publishing overlap: this goroutine parses and batches,
	// the publisher goroutine publishes one group of batches at a time (one
	// more may wait) and advances the entry and the manifest after each
	// acknowledgement. A publish failure cancels the parse.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	groups := make(chan []*document.Batch, 1)
	pubDone := make(chan error, 1)
	go func() {
		var err error
		for g := range groups {
			if err == nil {
				if err = r.publishGroup(pctx, &e, g, &rejectsBefore); err != nil {
					cancel()
				}
			}
		}
		pubDone <- err
	}()
	var pending []*document.Batch
	send := func() error {
		if len(pending) == 0 {
			return nil
		}
		select {
		case groups <- pending:
			pending = nil
			return nil
		case <-pctx.Done():
			return pctx.Err()
		}
	}
	skipUpTo := e.LastIndex
	handle := func(doc document.Document, pos, offset, line int64) error {
		if pos <= skipUpTo {
			r.sum.AlreadyPublished++
			return nil
		}
		full, err := b.Add(doc, pos)
		if err != nil {
			if !errors.Is(err, document.ErrInvalid) {
				return err
			}
			return r.o.rejects.Write(document.Reject{File: e.Name, Index: pos, Offset: offset, Line: line, ID: doc.ID, Error: err.Error()})
		}
		if full != nil {
			pending = append(pending, full)
			if len(pending) >= r.o.inflight {
				return send()
			}
		}
		return nil
	}

	var readErr error
	switch r.format {
	case FormatPubMed:
		_, readErr = pubmed.Parse(pctx, in, e.Name, func(rec pubmed.Record) error {
			return handle(rec.Doc, rec.Index, rec.Offset, rec.Line)
		}, pubmed.WithRejectSink(r.o.rejects), pubmed.WithMaxDocBytes(r.o.maxDocBytes))
	case FormatJSONL:
		var src io.Reader
		src, readErr = maybeGunzip(in)
		if readErr == nil {
			_, readErr = document.ScanJSONL(pctx, src, e.Name, document.Limits{MaxDocBytes: r.o.maxDocBytes}, r.o.rejects,
				func(doc document.Document, line int64) error { return handle(doc, line, 0, line) })
		}
	}
	// What was batched before an unreadable region is valid: publish it.
	// Any other error (the publisher's, the manifest's, ctx's) stops here;
	// the manifest already holds the last acknowledged position.
	var fe *pubmed.FileError
	unreadable := readErr != nil && (errors.As(readErr, &fe) || isReadError(readErr))
	if readErr == nil || unreadable {
		if last := b.Flush(); last != nil {
			pending = append(pending, last)
		}
		if err := send(); err != nil && readErr == nil {
			readErr = err
		}
	}
	close(groups)
	if err := <-pubDone; err != nil {
		return err
	}
	if readErr != nil && !unreadable {
		return readErr
	}
	e.Rejected += int64(r.o.rejects.Count() - rejectsBefore)
	r.sum.Rejected += e.Rejected - p.entry.Rejected
	if unreadable {
		e.Error = readErr.Error()
		if err := r.o.manifest.Put(ctx, e); err != nil {
			return err
		}
		return &fileError{fmt.Errorf("%s: %w", e.Name, readErr)}
	}
	e.Done, e.Error = true, ""
	r.o.log.Info("file published", "file", e.Name, "batches", e.Batches, "docs", e.Docs, "rejected", e.Rejected, "resumed", resumed)
	return r.o.manifest.Put(ctx, e)
}

// publishGroup publishes batches (one Publish call) and, once they are
// acknowledged, advances e and saves it to the manifest.
func (r *runner) publishGroup(ctx context.Context, e *FileEntry, batches []*document.Batch, rejectsBefore *int) error {
	msgs := make([]queue.Message, len(batches))
	docs := 0
	for i, bt := range batches {
		m, err := Message(bt)
		if err != nil {
			return err
		}
		msgs[i] = m
		docs += len(bt.Documents)
	}
	if err := r.pub.Publish(ctx, msgs...); err != nil {
		return fmt.Errorf("publish batches of %s (records %d..%d): %w", e.Name, batches[0].Source.First, batches[len(batches)-1].Source.Last, err)
	}
	last := batches[len(batches)-1]
	e.Batches += int64(len(batches))
	e.Docs += int64(docs)
	e.LastIndex, e.LastBatchID = last.Source.Last, last.ID
	n := r.o.rejects.Count()
	e.Rejected += int64(n - *rejectsBefore)
	*rejectsBefore = n
	r.sum.Batches += int64(len(batches))
	r.sum.Docs += int64(docs)
	r.o.progress.Docs(docs)
	return r.o.manifest.Put(ctx, *e)
}

// readErrorMark wraps input read errors so they can be told apart from the
// callback's errors.
type readErrorMark struct{ error }

func (e readErrorMark) Unwrap() error { return e.error }

func isReadError(err error) bool {
	var m readErrorMark
	return errors.As(err, &m)
}

// maybeGunzip returns r decompressed when it starts with the gzip magic.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, readErrorMark{fmt.Errorf("gzip header: %w", err)}
		}
		return markReader{gz}, nil
	}
	return markReader{br}, nil
}

// markReader marks its read errors (other than io.EOF) as input errors.
type markReader struct{ r io.Reader }

func (m markReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = readErrorMark{err}
	}
	return n, err
}

// Message turns a batch into the Kafka message: key = batch id (spreads
// batches over partitions; a replay lands on the same partition), value =
// the JSON batch, headers = batch id, schema version, source file and range,
// document count and content type.
func Message(b *document.Batch) (queue.Message, error) {
	data, err := document.EncodeBatch(b)
	if err != nil {
		return queue.Message{}, err
	}
	return queue.Message{
		Key:   []byte(b.ID),
		Value: data,
		Headers: map[string]string{
			HeaderBatchID:       b.ID,
			HeaderSchemaVersion: strconv.Itoa(document.SchemaVersion),
			HeaderSourceFile:    b.Source.File,
			HeaderSourceRange:   strconv.FormatInt(b.Source.First, 10) + "-" + strconv.FormatInt(b.Source.Last, 10),
			HeaderDocs:          strconv.Itoa(len(b.Documents)),
			HeaderContentType:   "application/json",
		},
	}, nil
}
