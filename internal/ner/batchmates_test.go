package ner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/model"
)

// shippedBundles are the bundles whose output must not depend on batch mates:
// the float default and its int8 variant (whose dynamic activation
// quantization once computed one scale over the whole batch).
var shippedBundles = []string{"../../models/jnlpba-v2", "../../models/jnlpba-v2-int8"}

// chunkBytes renders a document's chunks with every field, confidences to the
// last bit, so that two runs compare byte for byte.
func chunkBytes(r Result) string {
	s := r.Doc.ID + ":"
	for _, c := range r.Chunks {
		s += fmt.Sprintf("\n%+v conf=%s", c, strconv.FormatFloat(float64(c.Confidence), 'x', -1, 64))
	}
	return s
}

// runRecords annotates records (groups of documents) the way `worker run`
// does: record packing, a marker after each record, one pipeline for the
// whole stream. It returns each document's chunks by id.
func runRecords(t *testing.T, s *model.Session, b *model.Bundle, records [][]Doc) map[string]string {
	t.Helper()
	o := DefaultOptions()
	o.Packing = PackRecord
	if b.CRF != nil {
		o.CRF = &CRFTransitions{Transitions: b.CRF.Transitions, Start: b.CRF.Start, End: b.CRF.End}
	}
	if b.Decoding != "" {
		d, err := ParseDecoding(b.Decoding)
		if err != nil {
			t.Fatal(err)
		}
		o.Decoding = d
	}
	a, err := New(b.Tokenizer, s, b.Labels, o)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan Item[int], 8)
	out := make(chan Annotated[int], 8)
	errc := make(chan error, 1)
	go func() { errc <- Ordered(context.Background(), a.Run, in, out) }()
	go func() {
		defer close(in)
		for _, rec := range records {
			for _, d := range rec {
				in <- Item[int]{Doc: d}
			}
			in <- Item[int]{Marker: true}
		}
	}()
	got := map[string]string{}
	for r := range out {
		if !r.Marker {
			got[r.Result.Doc.ID] = chunkBytes(r.Result)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return got
}

// TestOutputIndependentOfBatchMates runs the same records through the shipped
// bundles in different batch compositions — the whole stream, a restart at a
// later record (offset), the records in reverse order, each record alone,
// and another batch size — and requires every document's chunks (text,
// offsets, labels, confidences) to be byte for byte the same. A restart
// reproduces the same files only if this holds.
func TestOutputIndependentOfBatchMates(t *testing.T) {
	docs := devDocs(t, 30)
	var records [][]Doc
	for i := 0; i+3 <= len(docs); i += 3 {
		records = append(records, docs[i:i+3])
	}
	reversed := make([][]Doc, len(records))
	for i, r := range records {
		reversed[len(records)-1-i] = r
	}
	for _, dir := range shippedBundles {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
				t.Fatalf("shipped bundle missing: %v", err)
			}
			b, err := model.LoadBundle(dir)
			if err != nil {
				t.Fatal(err)
			}
			sessions := map[int]*model.Session{}
			for _, B := range []int{8, 3} {
				s, err := model.NewSession(b, model.WithBatchSize(B), model.WithDevice(model.Device{Kind: "cpu"}), model.WithThreads(2, 1))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				sessions[B] = s
			}
			ref := runRecords(t, sessions[8], b, records)
			if len(ref) != len(docs)/3*3 {
				t.Fatalf("%d documents annotated, want %d", len(ref), len(docs)/3*3)
			}
			chunks := 0
			for _, s := range ref {
				for _, c := range s {
					if c == '\n' {
						chunks++
					}
				}
			}
			if chunks < 50 {
				t.Fatalf("only %d chunks: the comparison would prove little", chunks)
			}
			compare := func(name string, got map[string]string) {
				t.Helper()
				n := 0
				for id, g := range got {
					if g != ref[id] {
						n++
						if n <= 2 {
							gl, wl := strings.Split(g, "\n"), strings.Split(ref[id], "\n")
							i := 0
							for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
								i++
							}
							at := func(l []string) string {
								if i < len(l) {
									return l[i]
								}
								return "(none)"
							}
							t.Errorf("%s: document %s differs from the whole stream's output at line %d:\n got %s\nwant %s", name, id, i, at(gl), at(wl))
						}
					}
				}
				if n > 0 {
					t.Errorf("%s: %d of %d documents differ", name, n, len(got))
				}
			}
			compare("restart at record 1", runRecords(t, sessions[8], b, records[1:]))
			compare("restart at record 4", runRecords(t, sessions[8], b, records[4:]))
			compare("records in reverse order", runRecords(t, sessions[8], b, reversed))
			alone := map[string]string{}
			for _, r := range records[:4] {
				for id, g := range runRecords(t, sessions[8], b, [][]Doc{r}) {
					alone[id] = g
				}
			}
			compare("each record alone", alone)
			compare("batch size 3", runRecords(t, sessions[3], b, records))
		})
	}
}
