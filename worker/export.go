package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/export"
	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/sink"
)

// cmdExport writes the current state of the documents in a bucket of
// worker run output as PubTator or BioC.
func cmdExport(ctx context.Context, args []string) error {
	return runExport(ctx, args, os.Stdout, os.Stderr)
}

// runExport is cmdExport writing to stdout (-o -) and reporting to stderr.
// A file given with -o is written under a temporary name beside it and
// renamed into place only when the export succeeded: a failed export
// leaves no partial file (and an older file at that path untouched).
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	in := fs.String("in", "", "bucket URL of worker run output (the --out of worker run): s3://…, gs://…, azblob://…, file:///dir")
	format := fs.String("format", string(formats.PubTator), "output: pubtator, bioc-json or bioc-xml")
	model := fs.String("model", "", "model directory NAME-VERSION12 to export (default: the only one in the bucket)")
	out := fs.String("o", "-", "output file (- for stdout)")
	shards := fs.Int("shards", 1, "rounds over the files; each keeps the winner table of 1/N of the documents (bounded memory for huge outputs)")
	fs.Usage = config.Usage(fs, "worker export --in BUCKET_URL [--format pubtator|bioc-json|bioc-xml] [--model NAME-VERSION] [-o FILE]")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return fmt.Errorf("--in is required")
	}
	f, err := formats.Parse(*format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	st, err := sink.OpenBucket(ctx, *in)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := export.ResolveModel(ctx, st, *model)
	if err != nil {
		return fmt.Errorf("export %s: %w", *in, err)
	}
	dst, commit := stdout, func() error { return nil }
	if *out != "-" {
		pf, err := createPending(*out)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer pf.cleanup()
		dst, commit = pf.f, pf.commit
	}
	bw := bufio.NewWriter(dst)
	w, err := formats.NewWriter(bw, f)
	if err != nil {
		return err
	}
	stats, err := export.Run(ctx, st, m, w, export.WithShards(*shards))
	if err != nil {
		return fmt.Errorf("export %s: %w", *in, err)
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: write: %w", err)
	}
	if err := commit(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stderr, "export: model %s, %d files, %d documents, %d annotations, %d deleted, %d superseded messages\n",
		m, stats.Files, stats.Documents, stats.Annotations, stats.Deleted, stats.Superseded)
	if stats.Unwritable > 0 {
		fmt.Fprintf(stderr, "export: skipped %d documents whose id %s cannot represent ('|', a control or line-separator character); --format bioc-json writes them: %s\n",
			stats.Unwritable, f, quoteIDs(stats.UnwritableIDs, stats.Unwritable))
	}
	return nil
}

// quoteIDs lists ids quoted, with how many more there were.
func quoteIDs(ids []string, total int) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	s := strings.Join(q, ", ")
	if more := total - len(ids); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// pendingFile is an output file written under a temporary name in the
// target's directory; commit syncs it and renames it into place, cleanup
// (deferred) removes it unless committed.
type pendingFile struct {
	f      *os.File
	path   string
	closed bool
}

func createPending(path string) (*pendingFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp's 0600 would surprise
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &pendingFile{f: f, path: path}, nil
}

func (p *pendingFile) commit() error {
	p.closed = true
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	if err := os.Rename(p.f.Name(), p.path); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

func (p *pendingFile) cleanup() {
	if !p.closed {
		p.f.Close()
	}
	os.Remove(p.f.Name()) // gone after a successful rename
}
