package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/nerstream/nerstream/internal/eval"
	"github.com/nerstream/nerstream/internal/model"
	"github.com/nerstream/nerstream/internal/ner"
)

// cmdBench measures the model alone on full random [B,T] batches and the
// whole pipeline (segment, tokenize, pack, run, decode) on real documents,
// alternating the two for --rounds rounds so that both see the same machine
// state, and prints medians: how close the pipeline comes to the model's own
// ceiling (wordpiece efficiency), start-up time, peak memory and stage times.
func cmdBench(ctx context.Context, args []string) error {
	start := time.Now()
	c := newCommand("bench", "worker bench [--model DIR] --docs FILE [--batch 32] [--repeat N] [--rounds 3] [--json]")
	fs, mf := c.fs, &c.model
	docsPath := fs.String("docs", "", "documents (JSON lines with id|pmid and text); required")
	repeat := fs.Int("repeat", 1, "passes over the documents per round")
	rounds := fs.Int("rounds", 3, "alternating rounds of model-only batches and a pipeline pass; medians are reported")
	modelBatches := fs.Int("model-batches", 10, "full random batches for each model-only measurement")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(args); err != nil {
		return err
	}
	if *docsPath == "" {
		return fmt.Errorf("--docs is required")
	}
	if *rounds < 1 || *repeat < 1 || *modelBatches < 1 {
		return fmt.Errorf("--rounds, --repeat and --model-batches must be at least 1")
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
	b, sess, ann, err := mf.open(c.log)
	if err != nil {
		return err
	}
	defer sess.Close()
	startup := time.Since(start)
	var firstBatch time.Duration
	ann.OnBatch = func(int, int, int, time.Duration) {
		if firstBatch == 0 {
			firstBatch = time.Since(start)
		}
	}

	B, T := sess.BatchSize(), sess.SeqLen()
	ids := make([]int64, B*T)
	mask := make([]int64, B*T)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range ids {
		ids[i] = 5 + rng.Int64N(int64(b.Tokenizer.VocabSize()-5))
		mask[i] = 1
	}
	type round struct {
		modelWPS, windowsPS, docsPS, piecesPS, efficiency, seconds float64
		prepare, model, decode                                     float64 // seconds
	}
	var rs []round
	var prev ner.Stats
	for range *rounds {
		// Pipeline first: the first round's first batch gives the start-up
		// time to the first result.
		t0 := time.Now()
		if _, err := ann.Annotate(ctx, docs); err != nil {
			return err
		}
		el := time.Since(t0).Seconds()
		st := ann.Stats()
		t0 = time.Now()
		if err := sess.runEach(ctx, *modelBatches, ids, mask); err != nil {
			return err
		}
		r := round{modelWPS: float64(*modelBatches*B) / time.Since(t0).Seconds(), seconds: el,
			windowsPS: float64(st.Windows-prev.Windows) / el, docsPS: float64(st.Docs-prev.Docs) / el,
			piecesPS: float64(st.Pieces-prev.Pieces) / el,
			prepare:  (st.PrepareTime - prev.PrepareTime).Seconds(), model: (st.ModelTime - prev.ModelTime).Seconds(),
			decode: (st.DecodeTime - prev.DecodeTime).Seconds()}
		r.efficiency = r.piecesPS / (r.modelWPS * float64(T))
		rs = append(rs, r)
		prev = st
	}
	med := func(f func(round) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	st := ann.Stats()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	ortVersion, ortPath, _ := model.RuntimeInfo()
	res := map[string]any{
		"model": b.ID(), "device": sess.Device().String(), "onnxruntime": ortVersion, "batch": B, "seq": T, "packing": mf.packing,
		"rounds": len(rs), "docs_per_round": len(docs),
		"model_only_windows_per_s": med(func(r round) float64 { return r.modelWPS }),
		"windows_per_s":            med(func(r round) float64 { return r.windowsPS }),
		"docs_per_s":               med(func(r round) float64 { return r.docsPS }),
		"wordpieces_per_s":         med(func(r round) float64 { return r.piecesPS }),
		"wordpiece_efficiency":     med(func(r round) float64 { return r.efficiency }),
		"mb_per_s":                 float64(bytes) / 1e6 / med(func(r round) float64 { return r.seconds }),
		"slot_utilization":         st.SlotUtilization(), "windows": st.Windows / int64(len(rs)), "batches": st.Batches / int64(len(rs)),
		"model_busy_fraction": st.ModelTime.Seconds() / float64(len(sess)) / sum(rs, func(r round) float64 { return r.seconds }),
		"sessions":            len(sess), "intra_threads": sess.IntraThreads(),
		"prepare_s":  med(func(r round) float64 { return r.prepare }),
		"model_s":    med(func(r round) float64 { return r.model }),
		"decode_s":   med(func(r round) float64 { return r.decode }),
		"pipeline_s": med(func(r round) float64 { return r.seconds }),
		"startup_s":  startup.Seconds(), "first_batch_s": firstBatch.Seconds(),
		"peak_rss_mb": float64(ru.Maxrss) / 1024, "warmup": mf.warmup,
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("model %s on %s, [%d,%d] batches, packing %s; ONNX Runtime %s (%s); medians of %d rounds\n", b.ID(), sess.Device(), B, T, mf.packing, ortVersion, ortPath, len(rs))
	fmt.Printf("start-up:     %.2fs to a ready session, %.2fs to the first batch (warm-up %v)\n", startup.Seconds(), firstBatch.Seconds(), mf.warmup)
	fmt.Printf("model alone:  %.1f windows/s\n", res["model_only_windows_per_s"])
	fmt.Printf("pipeline:     %d docs in %.2fs = %.1f docs/s, %.2f MB/s, %.1f windows/s, slot utilization %.1f%%\n",
		len(docs), res["pipeline_s"], res["docs_per_s"], res["mb_per_s"], res["windows_per_s"], 100*st.SlotUtilization())
	fmt.Printf("efficiency:   %.0f real wordpieces/s = %.3f of the model's ceiling (model-only windows/s × %d)\n", res["wordpieces_per_s"], res["wordpiece_efficiency"], T)
	fmt.Printf("stages:       prepare %.2fs, model %.2fs, decode %.2fs per round; model busy %.1f%% of pipeline wall time; peak RSS %.0f MB\n",
		res["prepare_s"], res["model_s"], res["decode_s"], 100*res["model_busy_fraction"].(float64), res["peak_rss_mb"])
	return nil
}

func sum[T any](xs []T, f func(T) float64) float64 {
	var s float64
	for _, x := range xs {
		s += f(x)
	}
	return s
}
