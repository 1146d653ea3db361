package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/nerstream/nerstream/internal/eval"
	"github.com/nerstream/nerstream/internal/model"
	"github.com/nerstream/nerstream/internal/ner"
)

// cmdBench measures the model alone on full random [B,T] batches, then the
// whole pipeline (segment, tokenize, pack, run, decode) on real documents,
// and prints how close the pipeline comes to the model's own ceiling.
func cmdBench(ctx context.Context, args []string) error {
	c := newCommand("bench", "worker bench [--model DIR] --docs FILE [--batch 32] [--repeat N]")
	fs, mf := c.fs, &c.model
	docsPath := fs.String("docs", "", "documents (JSON lines with id|pmid and text); required")
	repeat := fs.Int("repeat", 1, "passes over the documents")
	modelBatches := fs.Int("model-batches", 10, "full random batches for the model-only measurement")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(args); err != nil {
		return err
	}
	if *docsPath == "" {
		return fmt.Errorf("--docs is required")
	}
	gold, err := eval.ReadDocs(*docsPath)
	if err != nil {
		return err
	}
	var docs []ner.Doc
	var bytes int64
	for range *repeat {
		for _, g := range gold {
			docs = append(docs, ner.Doc{ID: g.ID, Text: g.Text})
			bytes += int64(len(g.Text))
		}
	}
	log := c.log
	b, sess, ann, err := mf.open(log)
	if err != nil {
		return err
	}
	defer sess.Close()

	B, T := sess.BatchSize(), sess.SeqLen()
	ids := make([]int64, B*T)
	mask := make([]int64, B*T)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range ids {
		ids[i] = 5 + rng.Int64N(int64(b.Tokenizer.VocabSize()-5))
		mask[i] = 1
	}
	t0 := time.Now()
	for range *modelBatches {
		if _, err := sess.Run(ctx, ids, mask); err != nil {
			return err
		}
	}
	modelEl := time.Since(t0)
	modelWPS := float64(*modelBatches*B) / modelEl.Seconds()

	t0 = time.Now()
	if _, err := ann.Annotate(ctx, docs); err != nil {
		return err
	}
	el := time.Since(t0)
	st := ann.Stats()
	ortVersion, ortPath, _ := model.RuntimeInfo()
	res := map[string]any{
		"model": b.ID(), "device": sess.Device().String(), "onnxruntime": ortVersion, "batch": B, "seq": T, "packing": mf.packing,
		"model_only_windows_per_s": modelWPS, "model_only_ms_per_batch": 1000 * modelEl.Seconds() / float64(*modelBatches),
		"docs": st.Docs, "docs_per_s": float64(st.Docs) / el.Seconds(), "mb_per_s": float64(bytes) / 1e6 / el.Seconds(),
		"windows": st.Windows, "windows_per_s": float64(st.Windows) / el.Seconds(), "batches": st.Batches,
		"slot_utilization": st.SlotUtilization(), "model_busy_fraction": st.ModelTime.Seconds() / el.Seconds(),
		"chunks": st.Chunks, "seconds": el.Seconds(),
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("model %s on %s, [%d,%d] batches, packing %s; ONNX Runtime %s (%s)\n", b.ID(), sess.Device(), B, T, mf.packing, ortVersion, ortPath)
	fmt.Printf("model alone:  %.1f windows/s (%.0f ms per batch)\n", modelWPS, res["model_only_ms_per_batch"])
	fmt.Printf("pipeline:     %d docs in %.2fs = %.1f docs/s, %.2f MB/s, %.1f windows/s, slot utilization %.1f%%\n",
		st.Docs, el.Seconds(), res["docs_per_s"], res["mb_per_s"], res["windows_per_s"], 100*st.SlotUtilization())
	fmt.Printf("model busy %.1f%% of pipeline wall time (the rest is tokenizing/decoding not hidden behind inference)\n", 100*st.ModelTime.Seconds()/el.Seconds())
	return nil
}
