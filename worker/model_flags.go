package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/model"
	"github.com/nerstream/nerstream/internal/ner"
)

// DefaultModelName is the bundle shipped under models/.
const DefaultModelName = "jnlpba-v2"

// modelHelp describes the --model default without a path of this machine.
const modelHelp = "model bundle directory (model.onnx, config.json, tokenizer.json); default: models/" + DefaultModelName +
	" in the working directory or a parent, else next to the binary (../models), else /opt/nerstream/models (the container image)"

// defaultModel finds the shipped bundle relative to the working directory or
// the executable, so `worker annotate` works with no flags.
func defaultModel() string {
	rel := filepath.Join("models", DefaultModelName)
	cands := config.SearchUp(rel)
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", rel))
	}
	cands = append(cands, filepath.Join("/opt/nerstream", rel))
	for _, c := range cands {
		if st, err := os.Stat(filepath.Join(c, "model.onnx")); err == nil && !st.IsDir() {
			return c
		}
	}
	return rel
}

// bundleDir is --model, or the default bundle when it is empty.
func bundleDir(flag string) string {
	if flag != "" {
		return flag
	}
	return defaultModel()
}

// modelFlags are the model and NER options shared by every subcommand.
type modelFlags struct {
	dir, device                    string
	batch, intra, inter, sessions  int
	aggregation, decoding, packing string
	overlap                        int
	labels                         string
	minConf                        float64
	warmup                         bool
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.dir, "model", "", modelHelp)
	fs.StringVar(&m.device, "device", "auto", "execution provider: auto, cpu, cuda or cuda:N")
	fs.IntVar(&m.batch, "batch", 32, "windows per model run (B of the fixed [B,128] batch)")
	fs.IntVar(&m.intra, "intra-threads", 0, "ONNX Runtime intra-op threads per session (0: the cores this process may use, GOMAXPROCS, a container's CPU limit included, divided among the sessions)")
	fs.IntVar(&m.inter, "inter-threads", 0, "ONNX Runtime inter-op threads (0: default)")
	fs.IntVar(&m.sessions, "model-sessions", 0, "ONNX Runtime sessions of the model, each running its own batch (0: on CPU, for a recurrent graph such as the BiLSTM bundles, one single-threaded session per core, at most 8; else 1)")
	fs.StringVar(&m.aggregation, "aggregation", "first", "word label from its wordpieces: first, average or max")
	fs.StringVar(&m.decoding, "decoding", "", "BIO decoding: viterbi or argmax (default: the bundle's, else viterbi)")
	fs.StringVar(&m.packing, "packing", ner.DefaultOptions().Packing.String(), "sentences per window: record (first-fit decreasing over the documents of a Kafka record, or of 64 consecutive documents), document, sentence or stream")
	fs.IntVar(&m.overlap, "overlap", 32, "wordpieces shared by neighbouring windows of a long sentence")
	fs.StringVar(&m.labels, "labels", "", "comma-separated entity types to keep (default: all)")
	fs.Float64Var(&m.minConf, "min-confidence", 0, "drop chunks with a lower confidence")
	fs.BoolVar(&m.warmup, "warmup", false, "run one full all-padding batch at start-up (always done when the graph does not declare its label count)")
}

// open loads the bundle, starts the session and builds the annotator.
func (m *modelFlags) open(log *slog.Logger) (*model.Bundle, sessionSet, *ner.Annotator, error) {
	b, err := model.LoadBundle(bundleDir(m.dir))
	if err != nil {
		return nil, nil, nil, err
	}
	dev, err := model.ParseDevice(m.device)
	if err != nil {
		return nil, nil, nil, err
	}
	o := ner.DefaultOptions()
	if o.Aggregation, err = ner.ParseAggregation(m.aggregation); err != nil {
		return nil, nil, nil, err
	}
	dec := m.decoding
	if dec == "" {
		dec = b.Decoding
	}
	if o.Decoding, err = ner.ParseDecoding(dec); err != nil {
		return nil, nil, nil, err
	}
	if o.Packing, err = ner.ParsePacking(m.packing); err != nil {
		return nil, nil, nil, err
	}
	o.Overlap, o.MinConfidence = m.overlap, m.minConf
	if m.labels != "" {
		known := map[string]bool{}
		for _, l := range b.Labels {
			if len(l) > 2 {
				known[l[2:]] = true
			}
		}
		for _, t := range strings.Split(m.labels, ",") {
			t = strings.TrimSpace(t)
			if !known[t] {
				return nil, nil, nil, fmt.Errorf("--labels: %q is not an entity type of %s (have %v)", t, b.Name, keys(known))
			}
			o.Types = append(o.Types, t)
		}
	}
	if b.CRF != nil {
		o.CRF = &ner.CRFTransitions{Transitions: b.CRF.Transitions, Start: b.CRF.Start, End: b.CRF.End}
	}
	ss, err := m.openSessions(b, dev, log)
	if err != nil {
		return nil, nil, nil, err
	}
	runners := make([]ner.Runner, len(ss))
	for i, s := range ss {
		runners[i] = ner.Guard(s, log)
	}
	var r ner.Runner = runners[0]
	if len(runners) > 1 {
		p, err := ner.NewPool(runners...)
		if err != nil {
			ss.Close()
			return nil, nil, nil, err
		}
		r = p
	}
	a, err := ner.New(b.Tokenizer, r, b.Labels, o)
	if err != nil {
		ss.Close()
		return nil, nil, nil, err
	}
	return b, ss, a, nil
}

// maxAutoSessions bounds --model-sessions 0: each session holds its own copy of
// the weights.
const maxAutoSessions = 8

// openSessions starts the sessions of b (--model-sessions; see the flag for 0).
// The device is settled first (auto: CUDA if the runtime accepts it), so that
// the count and each session's threads fit it and the sessions start together.
func (m *modelFlags) openSessions(b *model.Bundle, dev model.Device, log *slog.Logger) (sessionSet, error) {
	if m.sessions < 0 || m.sessions > 64 {
		return nil, fmt.Errorf("--model-sessions %d: want 0 (auto) or 1..64", m.sessions)
	}
	dev, err := model.ResolveDevice(dev, log)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", b.Dir, err)
	}
	n, intra, cores := m.sessions, m.intra, runtime.GOMAXPROCS(0)
	if n == 0 {
		n = 1 // a GPU, or a graph whose operators use the cores well (BERT's large products)
		if dev.Kind != "cuda" && cores > 1 {
			rec, err := b.Recurrent()
			if err != nil {
				return nil, err
			}
			if rec {
				n = min(maxAutoSessions, max(1, cores/max(1, intra)))
			}
		}
	}
	if intra == 0 {
		intra = max(1, cores/n)
	}
	ss := make(sessionSet, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss[i], errs[i] = model.NewSession(b, model.WithBatchSize(m.batch), model.WithDevice(dev),
				model.WithThreads(intra, m.inter), model.WithLogger(log), model.WithWarmup(m.warmup))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		ss.Close()
		return nil, err
	}
	if n > 1 {
		log.Info("model sessions, each running its own batch", "sessions", n, "intra_threads", intra, "auto", m.sessions == 0)
	}
	return ss, nil
}

// sessionSet is the model sessions of one command (--model-sessions of them, one
// bundle, one shape).
type sessionSet []*model.Session

// Close closes every session.
func (ss sessionSet) Close() {
	for _, s := range ss {
		if s != nil {
			s.Close()
		}
	}
}

// Device is the execution provider in use.
func (ss sessionSet) Device() model.Device { return ss[0].Device() }

// BatchSize is B.
func (ss sessionSet) BatchSize() int { return ss[0].BatchSize() }

// SeqLen is T.
func (ss sessionSet) SeqLen() int { return ss[0].SeqLen() }

// IntraThreads is each session's intra-op thread count.
func (ss sessionSet) IntraThreads() int { return ss[0].IntraThreads() }

// runEach runs batches model-only batches of ids and mask, spread over the
// sessions, each session on its own goroutine: the model's own ceiling in
// this configuration.
func (ss sessionSet) runEach(ctx context.Context, batches int, ids, mask []int64) error {
	errs := make(chan error, len(ss))
	for i, s := range ss {
		go func() {
			for k := i; k < batches; k += len(ss) {
				if _, err := s.Run(ctx, ids, mask); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range ss {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// command is the start-up the model commands (annotate, eval, bench) share:
// a flag set with the model flags, a usage line, parsing of flags and their
// environment twins, and a warn-level logger on stderr.
type command struct {
	fs    *flag.FlagSet
	model modelFlags
	log   *slog.Logger
}

func newCommand(name, synopsis string) *command {
	c := &command{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.model.register(c.fs)
	c.fs.Usage = config.Usage(c.fs, synopsis)
	return c
}

// parse parses args, then the environment twins, and sets up the logger.
func (c *command) parse(args []string) error {
	if err := config.Parse(c.fs, args); err != nil {
		return err
	}
	c.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return nil
}
