package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/eval"
	"github.com/nerstream/nerstream/internal/ner"
)

func cmdEval(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	docsPath := fs.String("docs", "", "gold documents: JSON lines {\"pmid\"|\"id\",\"text\",\"entities\":[{begin,end,label}]} (code-point offsets)")
	iobPath := fs.String("iob", "", "gold pre-tokenized sentences: token<TAB>IOB2 tag, blank line between sentences")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	maxDoc := docLimitFlag(fs)
	fs.Usage = config.Usage(fs, "worker eval [--model DIR] --docs FILE.docs.jsonl | --iob FILE.iob2 [--json]")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	if (*docsPath == "") == (*iobPath == "") {
		return errors.New("give exactly one of --docs or --iob")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, sess, ann, err := mf.open(log)
	if err != nil {
		return err
	}
	defer sess.Close()
	t0 := time.Now()
	var rep eval.Report
	if *docsPath != "" {
		rep, err = evalDocs(ctx, ann, *docsPath, *maxDoc)
	} else {
		rep, err = evalIOB(ctx, ann, *iobPath)
	}
	if err != nil {
		return err
	}
	st := ann.Stats()
	el := time.Since(t0)
	if *asJSON {
		out := struct {
			eval.Report
			Model           string  `json:"model"`
			Input           string  `json:"input"`
			Packing         string  `json:"packing"`
			Seconds         float64 `json:"seconds"`
			Windows         int64   `json:"windows"`
			SlotUtilization float64 `json:"slot_utilization"`
		}{rep, b.ID(), *docsPath + *iobPath, mf.packing, el.Seconds(), st.Windows, st.SlotUtilization()}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Printf("model %s on %s (%s)\n", b.ID(), *docsPath+*iobPath, map[bool]string{true: "exact character spans", false: "conlleval chunks over tokens"}[*docsPath != ""])
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	fmt.Printf("windows %d, slot utilization %.1f%%, %.1fs (%.1f docs/s)\n", st.Windows, 100*st.SlotUtilization(), el.Seconds(), float64(st.Docs)/el.Seconds())
	return nil
}

func evalDocs(ctx context.Context, ann *ner.Annotator, path string, maxDoc int) (eval.Report, error) {
	gold, err := eval.ReadDocsMax(path, maxDoc)
	if err != nil {
		return eval.Report{}, err
	}
	docs := make([]ner.Doc, len(gold))
	for i, g := range gold {
		docs[i] = ner.Doc{ID: g.ID, Text: g.Text}
	}
	res, err := ann.Annotate(ctx, docs)
	if err != nil {
		return eval.Report{}, err
	}
	sc := eval.NewScorer()
	for i, r := range res {
		sc.Add(gold[i].Entities, chunkSpans(r.Chunks))
	}
	return sc.Report(), nil
}

func evalIOB(ctx context.Context, ann *ner.Annotator, path string) (eval.Report, error) {
	sents, err := eval.ReadIOB(path)
	if err != nil {
		return eval.Report{}, err
	}
	docs := make([]ner.Doc, len(sents))
	toks := make([][]eval.Span, len(sents))
	for i, s := range sents {
		text, spans := s.Text()
		docs[i] = ner.Doc{ID: fmt.Sprintf("%s#%d", s.Doc, i), Text: text}
		toks[i] = spans
	}
	res, err := ann.Annotate(ctx, docs)
	if err != nil {
		return eval.Report{}, err
	}
	sc := eval.NewScorer()
	for i, r := range res {
		pred := eval.TagsFromChunks(toks[i], chunkSpans(r.Chunks))
		sc.Add(eval.ChunksFromTags(sents[i].Tags), eval.ChunksFromTags(pred))
	}
	return sc.Report(), nil
}

func chunkSpans(cs []ner.Chunk) []eval.Span {
	out := make([]eval.Span, len(cs))
	for i, c := range cs {
		out[i] = eval.Span{Begin: c.Begin, End: c.End, Label: c.Label}
	}
	return out
}
