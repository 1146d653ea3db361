package ner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nerstream/nerstream/internal/wordpiece"
)

// Runner runs the model on one fixed-shape batch. ids and mask are exactly
// BatchSize()*SeqLen() long; the returned logits are BatchSize()*SeqLen()*
// NumLabels() long and may be reused by the next Run. *model.Session
// implements it.
type Runner interface {
	BatchSize() int
	SeqLen() int
	NumLabels() int
	Run(ctx context.Context, ids, mask []int64) ([]float32, error)
}

// Packing chooses which sentences may share a window.
type Packing int

const (
	// PackDocument packs consecutive sentences of one document per window.
	PackDocument Packing = iota
	// PackSentence puts every sentence in its own window.
	PackSentence
	// PackStream packs consecutive sentences across document borders.
	PackStream
	// PackRecord packs the sentences of a group of documents — the
	// documents between two record boundaries ([Ordered] markers), at most
	// RecordDocs of them — first-fit decreasing by length, so windows are
	// nearly full. A document's windows depend only on its group, never on
	// batching or timing, so output stays reproducible.
	PackRecord
)

// RecordDocs bounds a PackRecord group without a boundary: the producer's
// documents per batch message (document.DefaultMaxDocs).
const RecordDocs = 64

// ParsePacking parses "document", "sentence", "stream" or "record".
func ParsePacking(s string) (Packing, error) {
	switch s {
	case "", "document", "doc":
		return PackDocument, nil
	case "sentence":
		return PackSentence, nil
	case "stream":
		return PackStream, nil
	case "record":
		return PackRecord, nil
	}
	return 0, fmt.Errorf("packing %q: want document, sentence, stream or record", s)
}

func (p Packing) String() string { return [...]string{"document", "sentence", "stream", "record"}[p] }

// Options configure an Annotator. The zero value is not valid; start from
// DefaultOptions.
type Options struct {
	Aggregation   Aggregation
	Decoding      Decoding
	Packing       Packing
	Overlap       int           // wordpieces shared by neighbouring windows of a long sentence
	Types         []string      // entity types to keep (empty: all)
	MinConfidence float64       // drop chunks below this confidence
	Linger        time.Duration // flush a partial batch after this long without input (0: only at end of input)
	CRF           *CRFTransitions
}

// CRFTransitions are learned transition scores, indexed like the labels.
type CRFTransitions struct {
	Transitions [][]float32
	Start, End  []float32
}

// DefaultOptions are the defaults of every command.
func DefaultOptions() Options {
	return Options{Aggregation: AggFirst, Decoding: DecodeViterbi, Packing: PackRecord, Overlap: 32, Linger: 20 * time.Millisecond}
}

// Doc is one document to annotate. Meta is carried through to the Result.
type Doc struct {
	ID   string
	Text string
	Meta any

	boundary bool // an Ordered marker: ends a PackRecord group
}

// Chunk is one entity mention. Begin and End are Unicode code-point offsets
// into the document text (End exclusive) and Text equals that slice.
type Chunk struct {
	DocID      string  `json:"doc_id"`
	ChunkIndex int     `json:"chunk_index"`
	Begin      int     `json:"begin"`
	End        int     `json:"end"`
	Text       string  `json:"text"`
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
	Sentence   int     `json:"sentence"`
}

// Result is the annotation of one document.
type Result struct {
	Doc       Doc
	Chunks    []Chunk
	Sentences int
	Words     int
	Pieces    int // wordpieces
	Windows   int // windows this document occupies (shared windows count for each document in them)
	// Err is set when the model failed on a batch holding one of the
	// document's windows (it wraps ErrModelPanic: the GuardedRunner's retry
	// panicked too); the Result then has no chunks. Other documents go on.
	// Each and Annotate return it as their error; worker run dead-letters the
	// document (internal/stream).
	Err error
}

// Stats are cumulative counters of an Annotator.
type Stats struct {
	Docs, Sentences, Words, Pieces int64 // Docs: documents only, never Ordered's markers
	Windows, Batches               int64
	TokenSlots, UsedSlots          int64 // B*T per batch; non-padding tokens ([CLS]/[SEP] included)
	Chunks                         int64
	ModelTime                      time.Duration // inside Runner.Run, summed over batches (a ConcurrentRunner's overlapping runs each count)
	PrepareTime                    time.Duration // segmenting and tokenizing
	DecodeTime                     time.Duration // stitching, aggregation, BIO decoding, chunks
}

// SlotUtilization is UsedSlots/TokenSlots.
func (s Stats) SlotUtilization() float64 {
	if s.TokenSlots == 0 {
		return 0
	}
	return float64(s.UsedSlots) / float64(s.TokenSlots)
}

// Annotator runs the window/batch/decode pipeline. Its Run may be called
// once at a time; Stats may be read concurrently.
type Annotator struct {
	tok    *wordpiece.Tokenizer
	run    Runner
	conc   ConcurrentRunner // run, when it runs more than one batch at once
	labels *labelSet
	opts   Options
	crf    *crfScores
	B, T   int
	L      int

	mu    sync.Mutex
	stats Stats
	// OnBatch, when set, is called after each model run with the batch's
	// window count, real-token count, slot count and model latency (for
	// metrics).
	OnBatch func(windows, used, slots int, d time.Duration)
}

// New creates an Annotator. labels are the model's output labels in logit order.
func New(tok *wordpiece.Tokenizer, r Runner, labels []string, opts Options) (*Annotator, error) {
	ls, err := newLabelSet(labels)
	if err != nil {
		return nil, err
	}
	a := &Annotator{tok: tok, run: r, labels: ls, opts: opts, B: r.BatchSize(), T: r.SeqLen(), L: r.NumLabels()}
	if cr, ok := r.(ConcurrentRunner); ok && cr.Concurrency() > 1 {
		a.conc = cr
	}
	if a.L != len(labels) {
		return nil, fmt.Errorf("ner: model has %d labels, label list has %d", a.L, len(labels))
	}
	if a.T < 4 || a.B < 1 {
		return nil, fmt.Errorf("ner: batch shape [%d,%d] too small", a.B, a.T)
	}
	if opts.Overlap < 0 || opts.Overlap > (a.T-2)/2 {
		return nil, fmt.Errorf("ner: overlap %d must be in 0..%d (half a window)", opts.Overlap, (a.T-2)/2)
	}
	if opts.MinConfidence < 0 || opts.MinConfidence > 1 {
		return nil, fmt.Errorf("ner: min confidence %v must be in [0,1]", opts.MinConfidence)
	}
	if c := opts.CRF; c != nil {
		n := len(labels)
		a.crf = &crfScores{trans: make([]float32, 0, n*n), start: c.Start, end: c.End}
		for _, row := range c.Transitions {
			a.crf.trans = append(a.crf.trans, row...)
		}
		if len(a.crf.trans) != n*n || len(c.Start) != n || len(c.End) != n {
			return nil, fmt.Errorf("ner: CRF transitions must be %dx%d", n, n)
		}
	}
	return a, nil
}

// addTime adds d to one of the stats' durations.
func (a *Annotator) addTime(field *time.Duration, d time.Duration) {
	a.mu.Lock()
	*field += d
	a.mu.Unlock()
}

// Stats returns a snapshot of the cumulative counters.
func (a *Annotator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// Annotate runs the pipeline over docs and returns their results in order.
func (a *Annotator) Annotate(ctx context.Context, docs []Doc) ([]Result, error) {
	res := make([]Result, 0, len(docs))
	err := a.Each(ctx, docs, func(r Result) error { res = append(res, r); return nil })
	return res, err
}

// Each runs the pipeline over docs and calls fn with each result, in input
// order, as soon as it is ready. An error from fn stops the pipeline and is
// returned.
func (a *Annotator) Each(ctx context.Context, docs []Doc, fn func(Result) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan Doc)
	out := make(chan Result, 64)
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx, in, out) }()
	go func() {
		defer close(in)
		for _, d := range docs {
			select {
			case in <- d:
			case <-ctx.Done():
				return
			}
		}
	}()
	var fnErr error
	for r := range out {
		if fnErr == nil {
			if r.Err != nil {
				fnErr = fmt.Errorf("document %q: %w", r.Doc.ID, r.Err)
			} else {
				fnErr = fn(r)
			}
			if fnErr != nil {
				cancel()
			}
		}
	}
	if err := <-errc; fnErr == nil && err != nil {
		return err
	}
	return fnErr
}

// Run reads documents from in until it is closed (or ctx ends), and sends
// each document's Result to out in input order. It closes out before
// returning. A model error stops the pipeline and is returned; documents not
// yet emitted are not sent. The exception is a contained model panic
// (ErrModelPanic from a GuardedRunner): only the documents with a window in
// that batch fail, each with Result.Err, and the pipeline goes on.
func (a *Annotator) Run(ctx context.Context, in <-chan Doc, out chan<- Result) error {
	defer close(out)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	inFlight := 1 // batches the model runs at once
	if a.conc != nil {
		inFlight = a.conc.Concurrency()
	}
	toModel := make(chan item, 1+inFlight+RecordDocs) // batches and document markers
	toDecode := make(chan item, 2)
	free := make(chan *batch, 2+2*inFlight)
	for range cap(free) {
		free <- a.newBatch()
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(toModel)
		if err := a.prepare(ctx, in, toModel, free); err != nil {
			cancel(err)
		}
	}()
	go func() {
		defer wg.Done()
		defer close(toDecode)
		if err := a.model(ctx, toModel, toDecode); err != nil {
			cancel(err)
		}
	}()
	err := a.decode(ctx, toDecode, out, free)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// item flows through the pipeline: a batch, or the marker that a document
// has been fully packed (with its final window count).
type item struct {
	b     *batch
	doc   *docState
	total int
}

type docState struct {
	doc     Doc
	sents   []*sentState
	windows int // written by prepare only
	seen    int // written by decode only
	words   int
	pieces  int
	err     error // written by decode only: a batch holding one of its windows failed
}

type sentState struct {
	doc      *docState
	index    int
	byteBase int
	charBase int
	ids      []int64
	words    []int
	chars    []wordpiece.Span
	bytes    []wordpiece.Span
	logits   []float32 // n*L, the chosen window's logits per wordpiece
	ctx      []int32   // context score of the window the logits came from; -1 = none yet
}

// segment of a sentence placed in a window: wordpieces [from, to).
type piece struct {
	s                 *sentState
	from, to          int
	openLeft, openRgt bool // cut inside the sentence on that side
}

type window struct {
	pieces []piece
	n      int
}

type batch struct {
	ids, mask []int64
	rows      []window
	logits    []float32
	used      int
	err       error // the model failed on this batch (ErrModelPanic); no logits
}

func (a *Annotator) newBatch() *batch {
	return &batch{ids: make([]int64, a.B*a.T), mask: make([]int64, a.B*a.T), logits: make([]float32, a.B*a.T*a.L)}
}

// model runs the batches of inc, one at a time or, with a ConcurrentRunner,
// up to its Concurrency() at once, and sends every item on to decoding in
// the order it came.
func (a *Annotator) model(ctx context.Context, inc <-chan item, outc chan<- item) error {
	if a.conc != nil {
		return a.modelConcurrent(ctx, inc, outc)
	}
	for it := range inc {
		if b := it.b; b != nil {
			t0 := time.Now()
			logits, err := a.run.Run(ctx, b.ids, b.mask)
			if err == nil && len(logits) != len(b.logits) {
				err = fmt.Errorf("ner: model returned %d logits, want %d", len(logits), len(b.logits))
			}
			if err == nil {
				copy(b.logits, logits)
			}
			if err := a.ran(b, err, time.Since(t0)); err != nil {
				return err
			}
		}
		select {
		case outc <- it:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// modelConcurrent is model with up to a.conc.Concurrency() batches running at
// once: a dispatcher hands batches to that many workers and queues every
// item in input order; the items leave that queue, in order, as soon as
// their batch is done.
func (a *Annotator) modelConcurrent(ctx context.Context, inc <-chan item, outc chan<- item) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type job struct {
		it   item
		err  error
		d    time.Duration
		done chan struct{} // closed when err and d are set (at once for a document marker)
	}
	n := a.conc.Concurrency()
	work := make(chan *job)
	// Document markers queue up in order too: room for a record group's
	// worth of them, so that they never hold back the next batch (batches in
	// flight are bounded by the free batches, not by this queue).
	order := make(chan *job, n+2*RecordDocs)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				t0 := time.Now()
				b := j.it.b
				j.err = a.conc.RunInto(ctx, b.ids, b.mask, b.logits)
				j.d = time.Since(t0)
				close(j.done)
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(work)
		for {
			var it item
			var ok bool
			select {
			case it, ok = <-inc:
				if !ok {
					return
				}
			case <-ctx.Done():
				return
			}
			j := &job{it: it, done: make(chan struct{})}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			if it.b == nil {
				close(j.done)
				continue
			}
			select {
			case work <- j:
			case <-ctx.Done():
				j.err = context.Cause(ctx)
				close(j.done)
				return
			}
		}
	}()
	var err error
	for j := range order { // after an error: drain, so that the dispatcher and workers end
		<-j.done
		if err != nil {
			continue
		}
		if j.it.b != nil {
			if err = a.ran(j.it.b, j.err, j.d); err != nil {
				cancel(err)
				continue
			}
		}
		select {
		case outc <- j.it:
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
	}
	wg.Wait()
	return err
}

// ran records a finished model run of b, in packing order: a contained
// panic (ErrModelPanic) fails only b's documents; any other error stops the
// pipeline and is returned.
func (a *Annotator) ran(b *batch, err error, d time.Duration) error {
	b.err = nil
	switch {
	case errors.Is(err, ErrModelPanic):
		b.err = err // its documents fail; the others go on
	case err != nil:
		return err
	}
	a.mu.Lock()
	a.stats.Batches++
	a.stats.Windows += int64(len(b.rows))
	a.stats.TokenSlots += int64(a.B * a.T)
	a.stats.UsedSlots += int64(b.used)
	a.stats.ModelTime += d
	a.mu.Unlock()
	if a.OnBatch != nil {
		a.OnBatch(len(b.rows), b.used, a.B*a.T, d)
	}
	return nil
}

// decode scatters logits back to sentences and emits finished documents in order.
func (a *Annotator) decode(ctx context.Context, inc <-chan item, out chan<- Result, free chan *batch) error {
	var queue []*item
	var sc scratch
	for it := range inc {
		if b := it.b; b != nil {
			for r, w := range b.rows {
				if b.err != nil {
					a.fail(w, b.err)
				} else {
					a.scatter(b.logits[r*a.T*a.L:(r+1)*a.T*a.L], w)
				}
			}
			free <- b
		} else {
			queue = append(queue, &it) // a fresh it per iteration (Go 1.22)
		}
		for len(queue) > 0 && queue[0].doc.seen == queue[0].total {
			t0 := time.Now()
			res, err := a.finish(queue[0].doc, &sc)
			if err != nil {
				return err
			}
			a.addTime(&a.stats.DecodeTime, time.Since(t0))
			queue = queue[1:]
			select {
			case out <- res:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
	}
	if len(queue) > 0 {
		if err := context.Cause(ctx); err != nil {
			return err
		}
		return fmt.Errorf("ner: document %q: %d of %d windows came back (bug)", queue[0].doc.doc.ID, queue[0].doc.seen, queue[0].total)
	}
	return nil
}

// fail marks the documents of a window whose batch the model failed on.
func (a *Annotator) fail(w window, err error) {
	var last *docState
	for _, pc := range w.pieces {
		if d := pc.s.doc; d != last {
			d.seen++
			d.err = err
			last = d
		}
	}
}

// scatter copies a window's logits to its sentences' wordpieces where this
// window gives more context than any seen before.
func (a *Annotator) scatter(logits []float32, w window) {
	L := a.L
	pos := 1
	var last *docState
	for _, pc := range w.pieces {
		if d := pc.s.doc; d != last {
			d.seen++
			last = d
		}
		s := pc.s
		for i := pc.from; i < pc.to; i++ {
			left, right := int32(math.MaxInt32/2), int32(math.MaxInt32/2)
			if pc.openLeft {
				left = int32(i - pc.from)
			}
			if pc.openRgt {
				right = int32(pc.to - 1 - i)
			}
			score := min(left, right)
			if score > s.ctx[i] {
				s.ctx[i] = score
				copy(s.logits[i*L:(i+1)*L], logits[pos*L:(pos+1)*L])
			}
			pos++
		}
	}
}

type scratch struct {
	probs  []float32
	scores []float32
	path   []int
	spans  []span
	wfirst []int
	wlast  []int
	tmp    []float32
}

// finish decodes a fully scored document into chunks.
func (a *Annotator) finish(d *docState, sc *scratch) (Result, error) {
	res := Result{Doc: d.doc, Sentences: len(d.sents), Words: d.words, Pieces: d.pieces, Windows: d.windows}
	if d.err != nil {
		res.Err = d.err
		return res, nil
	}
	for _, s := range d.sents {
		if len(s.ids) == 0 {
			continue
		}
		for i, c := range s.ctx {
			if c < 0 {
				return res, fmt.Errorf("ner: document %q sentence %d wordpiece %d was not covered by any window (bug)", d.doc.ID, s.index, i)
			}
		}
		words := sc.wordPieces(s)
		a.aggregate(s, words, sc)
		if a.opts.Decoding == DecodeViterbi {
			sc.path = a.labels.viterbi(sc.scores, words, a.crf, sc.path)
		} else {
			sc.path = a.labels.argmax(sc.probs, words, sc.path)
		}
		res.Chunks = a.appendChunks(res.Chunks, d, s, sc)
	}
	a.mu.Lock()
	if !d.doc.boundary { // a marker (ner.Ordered) is no document
		a.stats.Docs++
	}
	a.stats.Sentences += int64(res.Sentences)
	a.stats.Words += int64(res.Words)
	a.stats.Pieces += int64(res.Pieces)
	a.stats.Chunks += int64(len(res.Chunks))
	a.mu.Unlock()
	return res, nil
}

// wordPieces fills sc.wfirst/sc.wlast with the first and last wordpiece of
// each word of s and returns the number of words.
func (sc *scratch) wordPieces(s *sentState) int {
	nw := s.words[len(s.ids)-1] + 1
	sc.wfirst = resize(sc.wfirst, nw)
	sc.wlast = resize(sc.wlast, nw)
	for w := range nw {
		sc.wfirst[w] = -1
	}
	for i, w := range s.words {
		if sc.wfirst[w] < 0 {
			sc.wfirst[w] = i
		}
		sc.wlast[w] = i
	}
	// Compact away word ids with no wordpieces (cannot happen with HF word ids, but be safe).
	words := 0
	for w := range nw {
		if sc.wfirst[w] >= 0 {
			sc.wfirst[words], sc.wlast[words] = sc.wfirst[w], sc.wlast[w]
			words++
		}
	}
	return words
}

// aggregate turns wordpiece logits into per-word label probabilities
// (sc.probs, by the Aggregation option) and decoding scores (sc.scores: log
// probabilities, or the raw first-piece logits for a CRF).
func (a *Annotator) aggregate(s *sentState, words int, sc *scratch) {
	L := a.L
	if cap(sc.tmp) < L {
		sc.tmp = make([]float32, L)
	}
	tmp := sc.tmp[:L]
	sc.probs = resizeF(sc.probs, words*L)
	sc.scores = resizeF(sc.scores, words*L)
	for w := range words {
		p := sc.probs[w*L : (w+1)*L]
		f, l := sc.wfirst[w], sc.wlast[w]
		switch a.opts.Aggregation {
		case AggFirst:
			softmaxInto(p, s.logits[f*L:(f+1)*L])
		case AggAverage:
			clear(p)
			for i := f; i <= l; i++ {
				softmaxInto(tmp, s.logits[i*L:(i+1)*L])
				for j := range L {
					p[j] += tmp[j]
				}
			}
			for j := range L {
				p[j] /= float32(l - f + 1)
			}
		case AggMax:
			best := float32(-1)
			for i := f; i <= l; i++ {
				softmaxInto(tmp, s.logits[i*L:(i+1)*L])
				for j := range L {
					if tmp[j] > best {
						best = tmp[j]
						copy(p, tmp)
					}
				}
			}
		}
		scores := sc.scores[w*L : (w+1)*L]
		if a.crf != nil && a.opts.Aggregation == AggFirst {
			copy(scores, s.logits[f*L:(f+1)*L])
		} else {
			for j := range L {
				scores[j] = float32(math.Log(float64(p[j]) + 1e-12))
			}
		}
	}
}

// appendChunks appends the chunks of the decoded path sc.path of sentence s,
// with document offsets, text and confidence, filtered by type and
// MinConfidence.
func (a *Annotator) appendChunks(out []Chunk, d *docState, s *sentState, sc *scratch) []Chunk {
	L := a.L
	sc.spans = a.labels.chunks(sc.path, sc.spans)
	for _, sp := range sc.spans {
		if !a.keepType(sp.typ) {
			continue
		}
		var conf float64
		for w := sp.first; w <= sp.last; w++ {
			conf += float64(sc.probs[w*L+sc.path[w]])
		}
		conf /= float64(sp.last - sp.first + 1)
		if conf < a.opts.MinConfidence {
			continue
		}
		fp, lp := sc.wfirst[sp.first], sc.wlast[sp.last]
		bb, be := s.byteBase+s.bytes[fp].Begin, s.byteBase+s.bytes[lp].End
		out = append(out, Chunk{
			DocID: d.doc.ID, ChunkIndex: len(out),
			Begin: s.charBase + s.chars[fp].Begin, End: s.charBase + s.chars[lp].End,
			Text: d.doc.Text[bb:be], Label: sp.typ, Confidence: conf, Sentence: s.index,
		})
	}
	return out
}

func (a *Annotator) keepType(t string) bool {
	if len(a.opts.Types) == 0 {
		return true
	}
	for _, x := range a.opts.Types {
		if x == t {
			return true
		}
	}
	return false
}

func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func resizeF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
