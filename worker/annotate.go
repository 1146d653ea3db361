package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/ner"
)

func cmdAnnotate(ctx context.Context, args []string) error {
	c := newCommand("annotate", "worker annotate [--model DIR] [--in FILE|-] [--format jsonl|table|pubtator|bioc-json|bioc-xml]")
	fs, mf := c.fs, &c.model
	var ef enrichFlags
	ef.register(fs)
	in := fs.String("in", "-", "input file: JSON lines {\"id\",\"text\"[,\"title\"]}, PubMed XML (.xml, .xml.gz), or plain text (one document); - for stdin")
	format := fs.String("format", "jsonl", "output: jsonl, table, pubtator, bioc-json or bioc-xml")
	maxDoc := docLimitFlag(fs)
	if err := c.parse(args); err != nil {
		return err
	}
	docFormat, ferr := formats.Parse(*format)
	if *format != "jsonl" && *format != "table" && ferr != nil {
		return fmt.Errorf("--format %q: want jsonl, table, pubtator, bioc-json or bioc-xml", *format)
	}
	en, err := ef.open()
	if err != nil {
		return err
	}
	log := c.log
	var docs []ner.Doc
	if isPubMedXML(*in) {
		docs, err = readPubMedXML(ctx, *in)
	} else {
		docs, err = readInput(ctx, *in, *maxDoc)
	}
	if err != nil {
		return err
	}
	_, sess, ann, err := mf.open(log)
	if err != nil {
		return err
	}
	defer sess.Close()

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	var tw *tabwriter.Writer
	if *format == "table" {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "doc_id\t#\tbegin\tend\tlabel\tconf\tsent\ttext")
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var dw *docWriter
	if ferr == nil {
		if dw, err = newDocWriter(w, docFormat, en); err != nil {
			return err
		}
	}
	err = ann.Each(ctx, docs, func(r ner.Result) error {
		if dw != nil {
			return dw.write(r)
		}
		if tw == nil {
			return writeJSONL(enc, en, r)
		}
		for _, c := range r.Chunks {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.3f\t%d\t%s\n", c.DocID, c.ChunkIndex, c.Begin, c.End, c.Label, c.Confidence, c.Sentence, c.Text)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if dw != nil {
		if err := dw.w.Close(); err != nil {
			return err
		}
	}
	if tw != nil {
		tw.Flush()
	}
	st := ann.Stats()
	fmt.Fprintf(os.Stderr, "annotate: %d docs, %d sentences, %d windows in %d batches, %d chunks, slot utilization %.1f%%\n",
		st.Docs, st.Sentences, st.Windows, st.Batches, st.Chunks, 100*st.SlotUtilization())
	return nil
}

// readInput reads documents from path ("-": stdin), gzipped or not: JSON
// lines (document.ScanJSONL, the producer's format) when the first
// non-blank character is "{", else the whole input as one plain-text
// document named after the input. Every document is validated against
// maxDoc (worker run's --max-doc-bytes) without holding a longer line or
// text whole; a bad line, an oversize document or a duplicate id is an
// error naming the input, the line and the document.
func readInput(ctx context.Context, path string, maxDoc int) ([]ner.Doc, error) {
	if maxDoc <= 0 {
		return nil, fmt.Errorf("--max-doc-bytes %d: must be positive", maxDoc)
	}
	var r io.Reader = os.Stdin
	name := "stdin"
	if path != "-" && path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("annotate: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	in, _, err := document.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("annotate: %s: %w", name, err)
	}
	br := bufio.NewReader(in)
	if !startsWithObject(br) {
		data, err := io.ReadAll(io.LimitReader(br, int64(maxDoc)+1))
		if err != nil {
			return nil, fmt.Errorf("annotate: read %s: %w", name, err)
		}
		if len(data) > maxDoc {
			return nil, fmt.Errorf("annotate: %s: plain-text document is larger than --max-doc-bytes %d; raise the limit to annotate it", name, maxDoc)
		}
		return []ner.Doc{{ID: name, Text: string(data)}}, nil
	}
	var docs []ner.Doc
	firstLine := map[string]int64{}
	var dupErr error // not a size problem: no --max-doc-bytes hint
	_, err = document.ScanJSONL(ctx, br, name, document.Limits{MaxDocBytes: maxDoc}, document.StrictRejects(), func(d document.Document, line int64) error {
		if first, dup := firstLine[d.ID]; dup {
			dupErr = fmt.Errorf("duplicate document id %q (first on line %d); ids must be unique", d.ID, first)
			return dupErr
		}
		firstLine[d.ID] = line
		docs = append(docs, ner.Doc{ID: d.ID, Text: d.Content()})
		return nil
	})
	if err != nil && dupErr != nil && errors.Is(err, dupErr) {
		return nil, fmt.Errorf("annotate: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("annotate: %w (--max-doc-bytes %d)", err, maxDoc)
	}
	return docs, nil
}

// startsWithObject reports whether the first character after blanks and a
// byte-order mark, within the first buffer of input, is "{", without
// consuming input.
func startsWithObject(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Size()) // fewer bytes at the end of the input
	t := bytes.TrimLeft(b, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}
