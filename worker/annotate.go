package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/ner"
)

func cmdAnnotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("annotate", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	in := fs.String("in", "-", "input file: JSON lines {\"id\",\"text\"[,\"title\"]}, or plain text (one document); - for stdin")
	format := fs.String("format", "jsonl", "output: jsonl or table")
	maxDoc := docLimitFlag(fs)
	fs.Usage = config.Usage(fs, "worker annotate [--model DIR] [--in FILE|-] [--format jsonl|table]")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	if *format != "jsonl" && *format != "table" {
		return fmt.Errorf("--format %q: want jsonl or table", *format)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	docs, err := readInputLimited(*in, *maxDoc)
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
	err = ann.Each(ctx, docs, func(r ner.Result) error {
		for _, c := range r.Chunks {
			if tw != nil {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.3f\t%d\t%s\n", c.DocID, c.ChunkIndex, c.Begin, c.End, c.Label, c.Confidence, c.Sentence, c.Text)
			} else if err := enc.Encode(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if tw != nil {
		tw.Flush()
	}
	st := ann.Stats()
	fmt.Fprintf(os.Stderr, "annotate: %d docs, %d sentences, %d windows in %d batches, %d chunks, slot utilization %.1f%%\n",
		st.Docs, st.Sentences, st.Windows, st.Batches, st.Chunks, 100*st.SlotUtilization())
	return nil
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
