package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/ner"
)

func cmdAnnotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("annotate", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	var ef enrichFlags
	ef.register(fs)
	in := fs.String("in", "-", "input file: JSON lines {\"id\",\"text\"[,\"title\"]}, PubMed XML (.xml, .xml.gz), or plain text (one document); - for stdin")
	format := fs.String("format", "jsonl", "output: jsonl, table, pubtator, bioc-json or bioc-xml")
	fs.Usage = config.Usage(fs, "worker annotate [--model DIR] [--in FILE|-] [--format jsonl|table|pubtator|bioc-json|bioc-xml]")
	if err := config.Parse(fs, args); err != nil {
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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var docs []ner.Doc
	if isPubMedXML(*in) {
		docs, err = readPubMedXML(ctx, *in)
	} else {
		docs, err = readInput(*in)
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

// readInput reads JSON lines documents or one plain-text document.
func readInput(path string) ([]ner.Doc, error) {
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
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("annotate: read %s: %w", name, err)
	}
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) == 0 || t[0] != '{' {
		return []ner.Doc{{ID: name, Text: string(data)}}, nil
	}
	return parseJSONLDocs(name, data)
}

// parseJSONLDocs parses {"id"|"pmid", "text", "title"?} lines. The annotated
// text is title + "\n" + text when a title is present, like the producer's.
func parseJSONLDocs(name string, data []byte) ([]ner.Doc, error) {
	var docs []ner.Doc
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var d struct {
			ID    string `json:"id"`
			PMID  string `json:"pmid"`
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := json.Unmarshal(line, &d); err != nil {
			return nil, fmt.Errorf("annotate: %s:%d: %w", name, i+1, err)
		}
		if d.ID == "" {
			d.ID = d.PMID
		}
		if d.ID == "" {
			return nil, fmt.Errorf("annotate: %s:%d: document has no \"id\"", name, i+1)
		}
		text := d.Text
		if d.Title != "" {
			text = strings.TrimRight(d.Title, "\n") + "\n" + d.Text
		}
		docs = append(docs, ner.Doc{ID: d.ID, Text: text})
	}
	return docs, nil
}
