package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/export"
	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/sink"
)

// cmdExport writes the current state of the documents in a bucket of
// worker run output as PubTator or BioC.
func cmdExport(ctx context.Context, args []string) error {
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
	dst := os.Stdout
	if *out != "-" {
		if dst, err = os.Create(*out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
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
	if dst != os.Stdout {
		if err := dst.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "export: model %s, %d files, %d documents, %d annotations, %d deleted, %d superseded messages\n",
		m, stats.Files, stats.Documents, stats.Annotations, stats.Deleted, stats.Superseded)
	return nil
}
