package ingest

import (
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
	"github.com/nerstream/nerstream/internal/pmc"
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
	// FormatPMC is PMC Open Access full text: JATS XML (<article>,
	// <pmc-articleset>) or BioC XML (<collection>), .xml or .xml.gz; see
	// internal/pmc. Documents carry passages.
	FormatPMC Format = "pmc"
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
// identifies a file in the manifest and in batch ids. skipped lists the
// directory entries left out (other extensions, subdirectories), so the
// caller can say so.
func Inputs(format Format, args []string) (files, skipped []string, err error) {
	exts := map[Format][]string{FormatPubMed: {".xml", ".xml.gz"}, FormatJSONL: {".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"},
		FormatPMC: {".xml", ".xml.gz", ".nxml"}}[format]
	if exts == nil {
		return nil, nil, fmt.Errorf("unknown input format %q", format)
	}
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, nil, fmt.Errorf("input: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, nil, fmt.Errorf("input: %w", err)
		}
		var found []string
		for _, e := range ents {
			p := filepath.Join(a, e.Name())
			if e.Type().IsRegular() && slices.ContainsFunc(exts, func(x string) bool { return strings.HasSuffix(e.Name(), x) }) {
				found = append(found, p)
			} else {
				skipped = append(skipped, p)
			}
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	seen := map[string]string{}
	for _, f := range files {
		b := filepath.Base(f)
		if prev, dup := seen[b]; dup {
			return nil, nil, fmt.Errorf("input: %s and %s have the same base name %s", prev, f, b)
		}
		seen[b] = f
	}
	if len(files) == 0 {
		return nil, skipped, fmt.Errorf("input: no %s files in %s", format, strings.Join(args, " "))
	}
	return files, skipped, nil
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
	if format != FormatPubMed && format != FormatJSONL && format != FormatPMC {
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
		if errors.Is(err, document.ErrUnreadable) {
			r.sum.Failed++
			failed = append(failed, err)
			o.log.Error("file not read to its end", "file", p.entry.Name, "err", err)
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

// file publishes one file from p.entry's position. Parsing and publishing
// overlap: this goroutine parses and batches while a publisher goroutine
// publishes one group of batches at a time (one more may wait) and advances
// the entry and the manifest after each acknowledgement. A publish failure
// cancels the parse. An error wrapping document.ErrUnreadable means the
// file could not be read to its end (what came before was published).
func (r *runner) file(ctx context.Context, p plan) error {
	e := p.entry
	resumed := e.LastIndex >= 0
	if resumed {
		r.sum.Resumed++
		r.o.log.Info("resuming file", "file", e.Name, "after_index", e.LastIndex, "batches", e.Batches)
	}
	f, err := os.Open(p.path)
	if err != nil {
		return document.Unreadable(fmt.Errorf("open %s: %w", p.path, err))
	}
	defer f.Close()
	in := &progressReader{r: f, p: r.o.progress, sum: &r.sum}
	rejectsBefore := r.o.rejects.Count()

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
	readErr := r.batch(pctx, in, e, groups)
	close(groups)
	if err := <-pubDone; err != nil {
		return err
	}
	unreadable := errors.Is(readErr, document.ErrUnreadable)
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
		return fmt.Errorf("%s: %w", e.Name, readErr)
	}
	e.Done, e.Error = true, ""
	r.o.log.Info("file published", "file", e.Name, "batches", e.Batches, "docs", e.Docs, "rejected", e.Rejected, "resumed", resumed)
	return r.o.manifest.Put(ctx, e)
}

// batch reads the file's records after e.LastIndex, batches them and sends
// groups of batches to the publisher. Invalid records go to the rejects.
// What was batched before an unreadable region (an error wrapping
// document.ErrUnreadable) is still sent; any other error (the publisher's,
// ctx's) stops at once: the manifest already holds the last acknowledged
// position.
func (r *runner) batch(ctx context.Context, in io.Reader, e FileEntry, groups chan<- []*document.Batch) error {
	b := document.NewBatcher(e.Name, document.WithMaxDocs(e.BatchDocs), document.WithMaxBytes(e.BatchBytes),
		document.WithMaxDocBytes(r.o.maxDocBytes))
	var pending []*document.Batch
	send := func() error {
		if len(pending) == 0 {
			return nil
		}
		select {
		case groups <- pending:
			pending = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	handle := func(doc document.Document, pos, offset, line int64) error {
		if pos <= e.LastIndex {
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
		_, readErr = pubmed.Parse(ctx, in, e.Name, func(rec pubmed.Record) error {
			return handle(rec.Doc, rec.Index, rec.Offset, rec.Line)
		}, pubmed.WithRejectSink(r.o.rejects), pubmed.WithMaxDocBytes(r.o.maxDocBytes))
	case FormatJSONL:
		var src io.Reader
		src, _, readErr = document.Decompress(in)
		if readErr == nil {
			_, readErr = document.ScanJSONL(ctx, src, e.Name, document.Limits{MaxDocBytes: r.o.maxDocBytes}, r.o.rejects,
				func(doc document.Document, line int64) error { return handle(doc, line, 0, line) })
		}
	case FormatPMC:
		readErr = pmc.Parse(ctx, in, e.Name, func(rec pmc.Record) error { return handle(rec.Doc, rec.Index, 0, rec.Line) })
	}
	if readErr != nil && !errors.Is(readErr, document.ErrUnreadable) {
		return readErr
	}
	if last := b.Flush(); last != nil {
		pending = append(pending, last)
	}
	if err := send(); err != nil && readErr == nil {
		return err
	}
	return readErr
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
			document.HeaderBatchID:       b.ID,
			document.HeaderSchemaVersion: strconv.Itoa(document.SchemaVersion),
			document.HeaderSourceFile:    b.Source.File,
			document.HeaderSourceRange:   strconv.FormatInt(b.Source.First, 10) + "-" + strconv.FormatInt(b.Source.Last, 10),
			document.HeaderDocs:          strconv.Itoa(len(b.Documents)),
			document.HeaderContentType:   "application/json",
		},
	}, nil
}
