package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/nerstream/nerstream/internal/enrich"
	"github.com/nerstream/nerstream/internal/eval"
	"github.com/nerstream/nerstream/internal/ner"
)

func cmdEval(ctx context.Context, args []string) error {
	c := newCommand("eval", "worker eval [--model DIR] --docs FILE.docs.jsonl | --iob FILE.iob2 [--json]")
	fs, mf := c.fs, &c.model
	docsPath := fs.String("docs", "", "gold documents: JSON lines {\"pmid\"|\"id\",\"text\",\"entities\":[{begin,end,label}]} (code-point offsets)")
	iobPath := fs.String("iob", "", "gold pre-tokenized sentences: token<TAB>IOB2 tag, blank line between sentences")
	iobUnit := fs.String("iob-unit", iobUnitDocument, "with --iob: what is annotated as one document: "+iobUnitDocument+" (the sentences under one ###MEDLINE header, joined by line breaks, as worker run sees an abstract) or "+iobUnitSentence+" (every sentence alone)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	var ef enrichFlags // the same document-level steps as worker run, so eval scores what run writes
	ef.register(fs)
	mates := fs.Bool("record-mates", false, "with --docs: annotate again with every record group shifted by half a group, and count the documents whose chunks change with their record-mates")
	maxDoc := docLimitFlag(fs)
	if err := c.parse(args); err != nil {
		return err
	}
	if (*docsPath == "") == (*iobPath == "") {
		return errors.New("give exactly one of --docs or --iob")
	}
	if err := checkIOBUnit(*iobUnit); err != nil {
		return err
	}
	log := c.log
	en, err := ef.open()
	if err != nil {
		return err
	}
	b, sess, ann, err := mf.open(log)
	if err != nil {
		return err
	}
	defer sess.Close()
	t0 := time.Now()
	var rep eval.Report
	if *docsPath != "" {
		rep, err = evalDocs(ctx, ann, en, *docsPath, *maxDoc)
	} else {
		rep, err = evalIOB(ctx, ann, en, *iobPath, *iobUnit)
	}
	if err != nil {
		return err
	}
	st := ann.Stats()
	el := time.Since(t0)
	changed := -1
	if *mates && *docsPath != "" {
		if changed, err = recordMatesChanged(ctx, ann, *docsPath); err != nil {
			return err
		}
	}
	if *asJSON {
		out := struct {
			eval.Report
			Model           string  `json:"model"`
			Input           string  `json:"input"`
			Packing         string  `json:"packing"`
			Seconds         float64 `json:"seconds"`
			Windows         int64   `json:"windows"`
			SlotUtilization float64 `json:"slot_utilization"`
			MatesChanged    *int    `json:"record_mates_changed,omitempty"`
			// Reweighted is Micro with each label scaled to the JNLPBA evaluation split's entity mix.
			Reweighted eval.Scores `json:"micro_reweighted_jnlpba_eval_mix"`
		}{rep, b.ID(), *docsPath + *iobPath, mf.packing, el.Seconds(), st.Windows, st.SlotUtilization(), nil, rep.Reweighted(eval.JNLPBAEvaluationMix)}
		if changed >= 0 {
			out.MatesChanged = &changed
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Printf("model %s on %s (%s)\n", b.ID(), *docsPath+*iobPath, map[bool]string{true: "exact character spans", false: "conlleval chunks over tokens"}[*docsPath != ""])
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	fmt.Printf("windows %d, slot utilization %.1f%%, %.1fs (%.1f docs/s)\n", st.Windows, 100*st.SlotUtilization(), el.Seconds(), float64(st.Docs)/el.Seconds())
	if changed >= 0 {
		fmt.Printf("record-mates: %d of %d documents' chunks change when their record group is shifted by %d documents\n", changed, st.Docs, ner.RecordDocs/2)
	}
	return nil
}

// recordMatesChanged annotates the documents of path twice, the second time
// rotated by half a PackRecord group so every document gets other
// record-mates, and counts the documents whose chunks differ.
func recordMatesChanged(ctx context.Context, ann *ner.Annotator, path string) (int, error) {
	gold, err := eval.ReadDocs(path)
	if err != nil {
		return 0, err
	}
	docs := make([]ner.Doc, len(gold))
	for i, g := range gold {
		docs[i] = ner.Doc{ID: g.ID, Text: g.Text}
	}
	k := min(ner.RecordDocs/2, len(docs))
	shifted := append(append([]ner.Doc(nil), docs[k:]...), docs[:k]...)
	a, err := ann.Annotate(ctx, docs)
	if err != nil {
		return 0, err
	}
	b, err := ann.Annotate(ctx, shifted)
	if err != nil {
		return 0, err
	}
	spans := map[string][]eval.Span{}
	for _, r := range b {
		spans[r.Doc.ID] = chunkSpans(r.Chunks)
	}
	changed := 0
	for _, r := range a {
		if !slices.Equal(chunkSpans(r.Chunks), spans[r.Doc.ID]) {
			changed++
		}
	}
	return changed, nil
}

func evalDocs(ctx context.Context, ann *ner.Annotator, en *enrich.Enricher, path string, maxDoc int) (eval.Report, error) {
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
		sc.Add(gold[i].Entities, chunkSpans(enriched(en, r)))
	}
	return sc.Report(), nil
}

// IOB units: what evalIOB hands the annotator as one document.
const (
	iobUnitDocument = "document" // a "###" document's sentences, joined by line breaks
	iobUnitSentence = "sentence" // every sentence alone
)

func checkIOBUnit(unit string) error {
	if unit != iobUnitDocument && unit != iobUnitSentence {
		return fmt.Errorf("--iob-unit %q: want %s or %s", unit, iobUnitDocument, iobUnitSentence)
	}
	return nil
}

func evalIOB(ctx context.Context, ann *ner.Annotator, en *enrich.Enricher, path, unit string) (eval.Report, error) {
	sents, err := eval.ReadIOB(path)
	if err != nil {
		return eval.Report{}, err
	}
	var units []eval.Document
	switch unit {
	case iobUnitDocument:
		units = eval.Documents(sents)
	case iobUnitSentence:
		for i := range sents {
			u := eval.Documents(sents[i : i+1])[0]
			u.ID = fmt.Sprintf("%s#%d", u.ID, i)
			units = append(units, u)
		}
	default:
		return eval.Report{}, checkIOBUnit(unit)
	}
	docs := make([]ner.Doc, len(units))
	for i, u := range units {
		docs[i] = ner.Doc{ID: u.ID, Text: u.Text}
	}
	res, err := ann.Annotate(ctx, docs)
	if err != nil {
		return eval.Report{}, err
	}
	sc := eval.NewScorer()
	for i, r := range res {
		chunks := chunkSpans(enriched(en, r))
		for j, s := range units[i].Sentences {
			pred := eval.TagsFromChunks(units[i].Tokens[j], chunks)
			sc.Add(eval.ChunksFromTags(s.Tags), eval.ChunksFromTags(pred))
		}
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

// enriched returns r's chunks after the document-level steps (abbreviation
// typing), as worker run writes them.
func enriched(en *enrich.Enricher, r ner.Result) []ner.Chunk {
	ec := en.Apply(r.Doc.Text, r.Chunks, nil)
	out := make([]ner.Chunk, len(ec))
	for i, c := range ec {
		out[i] = c.Chunk
	}
	return out
}
