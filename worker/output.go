package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/enrich"
	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/genes"
	"github.com/nerstream/nerstream/internal/ner"
	"github.com/nerstream/nerstream/internal/pubmed"
)

// enrichFlags are the document-level steps after the model (abbreviations,
// gene linking), shared by annotate and run.
type enrichFlags struct {
	abbrev  bool
	consist bool
	genes   string
}

func (e *enrichFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&e.abbrev, "abbreviations", enrich.DefaultAbbreviations, "resolve abbreviations: a short form gets abbreviation_of and its long form's type")
	fs.BoolVar(&e.consist, "consistency", enrich.DefaultConsistency, "repeated identical mentions in a document agree on one label (largest summed confidence; an abbreviation's long-form type wins)")
	fs.StringVar(&e.genes, "genes", "", "gene dictionary built by setup (.cache/genes/hs.genes.tsv) for NCBI Gene ids on protein/DNA/RNA chunks (empty: off)")
}

func (e *enrichFlags) open() (*enrich.Enricher, error) {
	opts := []enrich.Option{enrich.WithAbbreviations(e.abbrev), enrich.WithConsistency(e.consist)}
	if e.genes != "" {
		d, err := genes.Load(e.genes)
		if err != nil {
			return nil, err
		}
		opts = append(opts, enrich.WithLinker(d))
	}
	return enrich.New(opts...), nil
}

// isPubMedXML reports whether path names a PubMed XML file.
func isPubMedXML(path string) bool {
	return strings.HasSuffix(path, ".xml") || strings.HasSuffix(path, ".xml.gz")
}

// readPubMedXML reads the upserts of a PubMed XML file (.xml or .xml.gz) as
// documents; deletes are skipped, rejected records reported on stderr.
func readPubMedXML(ctx context.Context, path string) ([]ner.Doc, error) {
	var docs []ner.Doc
	_, err := pubmed.ParseFile(ctx, path, func(r pubmed.Record) error {
		if r.Doc.Op != document.OpDelete {
			docs = append(docs, ner.Doc{ID: r.Doc.ID, Text: r.Doc.Content()})
		}
		return nil
	}, pubmed.WithRejects(os.Stderr))
	if err != nil {
		return nil, fmt.Errorf("annotate: %w", err)
	}
	return docs, nil
}

// docWriter writes annotated documents in one of the formats package's
// formats.
type docWriter struct {
	w  formats.Writer
	en *enrich.Enricher
}

func newDocWriter(out io.Writer, f formats.Format, en *enrich.Enricher) (*docWriter, error) {
	w, err := formats.NewWriter(out, f)
	if err != nil {
		return nil, err
	}
	return &docWriter{w: w, en: en}, nil
}

func (d *docWriter) write(r ner.Result) error {
	ps := formats.SplitTitle(r.Doc.Text)
	doc := formats.Document{ID: r.Doc.ID, Passages: ps}
	for _, c := range d.en.Apply(r.Doc.Text, r.Chunks, ps) {
		doc.Annotations = append(doc.Annotations, enrich.Annotation(c))
	}
	return d.w.Write(doc)
}

// writeJSONL writes the enriched chunks of r as JSON lines.
func writeJSONL(enc *json.Encoder, en *enrich.Enricher, r ner.Result) error {
	for _, c := range en.Apply(r.Doc.Text, r.Chunks, formats.SplitTitle(r.Doc.Text)) {
		if err := enc.Encode(c); err != nil {
			return err
		}
	}
	return nil
}
