package ner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/nerstream/nerstream/internal/corpus"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/wordpiece"
)

const bundleDir = "../../testdata/tinybert"

func loadTok(t testing.TB) *wordpiece.Tokenizer {
	t.Helper()
	tok, err := wordpiece.LoadDir(bundleDir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fakeRunner checks the batch contract and computes logits with fn(row, pos,
// id, rowLen) → label index.
type fakeRunner struct {
	t       testing.TB
	B, T, L int
	cls     int64
	sep     int64
	fn      func(pos, rowLen int, id int64) int
	mu      sync.Mutex
	calls   int
	out     []float32
}

func (f *fakeRunner) BatchSize() int { return f.B }
func (f *fakeRunner) SeqLen() int    { return f.T }
func (f *fakeRunner) NumLabels() int { return f.L }
func (f *fakeRunner) Run(_ context.Context, ids, mask []int64) ([]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(ids) != f.B*f.T || len(mask) != f.B*f.T {
		f.t.Errorf("batch of %d ids / %d mask, want exactly %d", len(ids), len(mask), f.B*f.T)
		return nil, fmt.Errorf("bad shape")
	}
	if f.out == nil {
		f.out = make([]float32, f.B*f.T*f.L)
	}
	for r := range f.B {
		row, m := ids[r*f.T:(r+1)*f.T], mask[r*f.T:(r+1)*f.T]
		n := 0
		for n < f.T && m[n] == 1 {
			n++
		}
		for i := n; i < f.T; i++ {
			if m[i] != 0 || row[i] != 0 {
				f.t.Errorf("row %d: mask is not a prefix or padding is not 0 at %d", r, i)
			}
		}
		if n > 0 && (row[0] != f.cls || row[n-1] != f.sep || n < 3) {
			f.t.Errorf("row %d is not [CLS] … [SEP]: %v", r, row[:n])
		}
		for p := range f.T {
			o := f.out[(r*f.T+p)*f.L : (r*f.T+p+1)*f.L]
			for j := range o {
				o[j] = -5
			}
			if p < n {
				o[f.fn(p, n, row[p])] = 5
			}
		}
	}
	return f.out, nil
}

func newFake(t testing.TB, tok *wordpiece.Tokenizer, B int, fn func(pos, rowLen int, id int64) int) *fakeRunner {
	return &fakeRunner{t: t, B: B, T: 128, L: len(jnlpbaLabels), cls: tok.CLS(), sep: tok.SEP(), fn: fn}
}

func devDocs(t testing.TB, n int) []Doc {
	t.Helper()
	p, _ := corpus.Path("devel.docs.jsonl")
	f, err := os.Open(p)
	if err != nil {
		// Fall back to committed sample text.
		t.Skipf("JNLPBA devel docs not available: %v", err)
	}
	defer f.Close()
	var docs []Doc
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && len(docs) < n {
		var d struct{ PMID, Text string }
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, Doc{ID: d.PMID, Text: d.Text})
	}
	return docs
}

// byID labels a wordpiece from its id only (context-free): the results must
// then be independent of packing, batch size and window boundaries.
func byID(_, _ int, id int64) int {
	switch id % 7 {
	case 0:
		return 9 // B-protein
	case 1:
		return 10 // I-protein
	case 2:
		return 1 // B-DNA
	default:
		return 0
	}
}

func TestResultsIndependentOfPackingAndBatch(t *testing.T) {
	tok := loadTok(t)
	docs := devDocs(t, 40)
	docs = append(docs, Doc{ID: "empty", Text: ""}, Doc{ID: "spaces", Text: "   \n "})
	var ref []Result
	for _, pk := range []Packing{PackSentence, PackDocument, PackStream, PackRecord} {
		for _, B := range []int{1, 5, 32} {
			fr := newFake(t, tok, B, byID)
			o := DefaultOptions()
			o.Packing = pk
			a, err := New(tok, fr, jnlpbaLabels, o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Annotate(context.Background(), docs)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(docs) {
				t.Fatalf("%v B=%d: %d results for %d docs", pk, B, len(res), len(docs))
			}
			for i, r := range res {
				if r.Doc.ID != docs[i].ID {
					t.Fatalf("%v B=%d: result %d is %q, want %q (order)", pk, B, i, r.Doc.ID, docs[i].ID)
				}
				for j := range r.Chunks {
					r.Chunks[j].Confidence = 0 // checked elsewhere
				}
			}
			if ref == nil {
				ref = res
				continue
			}
			for i := range res {
				if !reflect.DeepEqual(res[i].Chunks, ref[i].Chunks) {
					t.Fatalf("%v B=%d: doc %s chunks differ from sentence packing B=1", pk, B, docs[i].ID)
				}
			}
			st := a.Stats()
			t.Logf("packing=%-8v B=%-2d batches=%-3d windows=%-4d slot utilization=%.1f%%", pk, B, st.Batches, st.Windows, 100*st.SlotUtilization())
		}
	}
	n := 0
	for _, r := range ref {
		n += len(r.Chunks)
	}
	if n == 0 {
		t.Fatal("no chunks at all: the test would prove nothing")
	}
}

// TestNoTextLost annotates a 3,000-word document with a runner that makes
// every wordpiece a B- label: every word must come back as exactly one chunk
// with correct code-point offsets.
func TestNoTextLost(t *testing.T) {
	tok := loadTok(t)
	words := []string{"IL-2", "receptor", "ß-globin", "NF-κB", "expression", "in", "T", "cells", "was", "induced", "by", "TNF-α", "(", "p", "<", "0.05", ")", "—", "see", "Fig.", "3", "."}
	var sb strings.Builder
	for i := 0; sb.Len() < 25000; i++ {
		if i > 0 {
			sb.WriteString(" ")
		}
		sb.WriteString(words[i%len(words)])
		if i%41 == 40 {
			sb.WriteString(" Results showed that")
		}
	}
	text := sb.String()
	fr := newFake(t, tok, 8, func(_, _ int, _ int64) int { return 1 }) // B-DNA everywhere
	o := DefaultOptions()
	o.Aggregation = AggFirst
	a, err := New(tok, fr, jnlpbaLabels, o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Annotate(context.Background(), []Doc{{ID: "long", Text: text}})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Words < 3000 {
		t.Fatalf("document has only %d words", r.Words)
	}
	if len(r.Chunks) != r.Words {
		t.Fatalf("%d chunks for %d words: some words were not covered", len(r.Chunks), r.Words)
	}
	runes := []rune(text)
	covered := make([]bool, len(runes))
	for _, c := range r.Chunks {
		if got := string(runes[c.Begin:c.End]); got != c.Text {
			t.Fatalf("chunk %d: text %q but doc[%d:%d] = %q", c.ChunkIndex, c.Text, c.Begin, c.End, got)
		}
		for i := c.Begin; i < c.End; i++ {
			covered[i] = true
		}
	}
	for i, c := range runes {
		if !covered[i] && !isSpace(c) {
			t.Fatalf("character %d %q is in no chunk", i, c)
		}
	}
	if last := r.Chunks[len(r.Chunks)-1]; last.End != len(runes) {
		t.Fatalf("last chunk ends at %d, document at %d", last.End, len(runes))
	}
}

func isSpace(r rune) bool { return r == ' ' || r == '\n' || r == '\t' }

// TestOverlapStitching: a sentence far longer than a window, with a runner
// that labels tokens close to a window edge as DNA and the rest as protein.
// With max-context stitching only the sentence's own first and last tokens
// are near an edge in their best window.
func TestOverlapStitching(t *testing.T) {
	tok := loadTok(t)
	const n = 1000
	text := strings.TrimSpace(strings.Repeat("cells ", n))
	enc := tok.Encode("cells")
	if len(enc.IDs) != 1 {
		t.Fatalf("test needs a single-wordpiece word, %q has %d", "cells", len(enc.IDs))
	}
	const edge = 10
	fr := newFake(t, tok, 4, func(pos, rowLen int, _ int64) int {
		if pos <= edge || rowLen-1-pos <= edge {
			return 1 // B-DNA
		}
		return 9 // B-protein
	})
	for _, overlap := range []int{32, 63} {
		o := DefaultOptions()
		o.Overlap = overlap
		o.Decoding = DecodeArgmax
		a, err := New(tok, fr, jnlpbaLabels, o)
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Annotate(context.Background(), []Doc{{ID: "run-on", Text: text}})
		if err != nil {
			t.Fatal(err)
		}
		r := res[0]
		if len(r.Chunks) != n {
			t.Fatalf("overlap %d: %d chunks for %d words", overlap, len(r.Chunks), n)
		}
		if r.Windows < n/(126-overlap) {
			t.Fatalf("overlap %d: only %d windows", overlap, r.Windows)
		}
		for i, c := range r.Chunks {
			want := "protein"
			if i < edge || i >= n-edge {
				want = "DNA"
			}
			if c.Label != want {
				t.Fatalf("overlap %d: word %d labelled %s, want %s (stitching chose a window with less context)", overlap, i, c.Label, want)
			}
		}
	}
}

func TestFiltersAndConfidence(t *testing.T) {
	tok := loadTok(t)
	docs := devDocs(t, 10)
	fr := newFake(t, tok, 8, byID)
	o := DefaultOptions()
	a, _ := New(tok, fr, jnlpbaLabels, o)
	all, err := a.Annotate(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	o.Types = []string{"DNA"}
	a, _ = New(tok, fr, jnlpbaLabels, o)
	dna, _ := a.Annotate(context.Background(), docs)
	o.Types, o.MinConfidence = nil, 0.99999
	a, _ = New(tok, fr, jnlpbaLabels, o)
	strict, _ := a.Annotate(context.Background(), docs)
	nAll, nDNA, nStrict := 0, 0, 0
	for i := range all {
		nAll += len(all[i].Chunks)
		for _, c := range all[i].Chunks {
			if c.Confidence <= 0 || c.Confidence > 1 {
				t.Fatalf("confidence %v out of (0,1]", c.Confidence)
			}
		}
		for j, c := range dna[i].Chunks {
			if c.Label != "DNA" || c.ChunkIndex != j {
				t.Fatalf("whitelist DNA let %s through (index %d)", c.Label, c.ChunkIndex)
			}
			nDNA++
		}
		nStrict += len(strict[i].Chunks)
	}
	if nDNA == 0 || nDNA >= nAll || nStrict >= nAll {
		t.Fatalf("filters ineffective: all=%d dna=%d minconf=%d", nAll, nDNA, nStrict)
	}
}

func TestLingerFlushesWithoutClosingInput(t *testing.T) {
	tok := loadTok(t)
	fr := newFake(t, tok, 32, byID)
	o := DefaultOptions()
	o.Packing = PackDocument // a record group waits for its boundary instead (TestRecordGroupEndsAtAMarker)
	o.Linger = 10 * time.Millisecond
	a, _ := New(tok, fr, jnlpbaLabels, o)
	in := make(chan Doc)
	out := make(chan Result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx, in, out)
	in <- Doc{ID: "a", Text: "IL-2 gene expression requires NF-kappa B."}
	select {
	case r := <-out:
		if r.Doc.ID != "a" {
			t.Fatalf("got %q", r.Doc.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a lone document was not flushed while the input stayed open")
	}
}

func TestModelErrorStopsPipeline(t *testing.T) {
	tok := loadTok(t)
	a, _ := New(tok, errRunner{}, jnlpbaLabels, DefaultOptions())
	_, err := a.Annotate(context.Background(), []Doc{{ID: "x", Text: "A sentence."}})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want the runner's error", err)
	}
}

type errRunner struct{}

func (errRunner) BatchSize() int { return 2 }
func (errRunner) SeqLen() int    { return 128 }
func (errRunner) NumLabels() int { return 11 }
func (errRunner) Run(context.Context, []int64, []int64) ([]float32, error) {
	return nil, fmt.Errorf("boom")
}

func BenchmarkPrepareDecode(b *testing.B) {
	tok := loadTok(b)
	docs := devDocs(b, 200)
	var bytes int64
	for _, d := range docs {
		bytes += int64(len(d.Text))
	}
	fr := newFake(b, tok, 32, byID)
	a, _ := New(tok, fr, jnlpbaLabels, DefaultOptions())
	b.SetBytes(bytes)
	b.ResetTimer()
	for range b.N {
		if _, err := a.Annotate(context.Background(), docs); err != nil {
			b.Fatal(err)
		}
	}
	st := a.Stats()
	b.ReportMetric(float64(st.Docs)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(100*st.SlotUtilization(), "slot%")
}
