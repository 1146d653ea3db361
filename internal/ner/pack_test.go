package ner

import (
	"context"
	"testing"
	"time"
)

// TestRecordPackingFillsWindows: first-fit decreasing over groups of
// documents fills nearly every slot of every batch, on the devel abstracts.
func TestRecordPackingFillsWindows(t *testing.T) {
	tok := loadTok(t)
	docs := devDocs(t, 200)
	util := map[Packing]float64{}
	for _, pk := range []Packing{PackDocument, PackRecord} {
		o := DefaultOptions()
		o.Packing = pk
		a, err := New(tok, newFake(t, tok, 32, byID), jnlpbaLabels, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Annotate(context.Background(), docs); err != nil {
			t.Fatal(err)
		}
		st := a.Stats()
		util[pk] = st.SlotUtilization()
		t.Logf("%v: %d windows in %d batches, slot utilization %.3f", pk, st.Windows, st.Batches, st.SlotUtilization())
	}
	if util[PackRecord] < 0.90 || util[PackRecord] <= util[PackDocument] {
		t.Fatalf("record packing slot utilization %.3f (document %.3f), want ≥ 0.90", util[PackRecord], util[PackDocument])
	}
}

// TestRecordPackingDependsOnTheGroupAlone: with a context-sensitive model
// (labels depend on the window length), a document's chunks are the same
// whatever precedes its group and whatever the batch size, as long as its
// group (the documents between two markers) is the same.
func TestRecordPackingDependsOnTheGroupAlone(t *testing.T) {
	tok := loadTok(t)
	docs := devDocs(t, 30)
	byLen := func(pos, rowLen int, id int64) int { // depends on the window's length
		if (rowLen+int(id))%5 == 0 {
			return 9 // B-protein
		}
		return byID(pos, rowLen, id)
	}
	run := func(B int, prefix []Doc) []Annotated[string] {
		o := DefaultOptions()
		o.Packing = PackRecord
		a, err := New(tok, newFake(t, tok, B, byLen), jnlpbaLabels, o)
		if err != nil {
			t.Fatal(err)
		}
		in := make(chan Item[string], 8)
		out := make(chan Annotated[string], 8)
		errc := make(chan error, 1)
		go func() { errc <- Ordered(context.Background(), a.Run, in, out) }()
		go func() {
			defer close(in)
			for _, d := range prefix {
				in <- Item[string]{Doc: d, Meta: "prefix"}
			}
			in <- Item[string]{Marker: true, Meta: "end of prefix"}
			for _, d := range docs[:12] { // group 1
				in <- Item[string]{Doc: d, Meta: d.ID}
			}
			in <- Item[string]{Marker: true, Meta: "end 1"}
			for _, d := range docs[12:] { // group 2
				in <- Item[string]{Doc: d, Meta: d.ID}
			}
			in <- Item[string]{Marker: true, Meta: "end 2"}
		}()
		var got []Annotated[string]
		for o := range out {
			if o.Meta != "prefix" {
				got = append(got, o)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		return got
	}
	ref := run(32, nil)
	chunks := 0
	for _, o := range ref {
		chunks += len(o.Result.Chunks)
	}
	if chunks == 0 {
		t.Fatal("no chunks: the comparison would prove nothing")
	}
	for _, tc := range []struct {
		B      int
		prefix []Doc
	}{{1, nil}, {7, docs[20:23]}, {32, docs[:5]}} {
		got := run(tc.B, tc.prefix)
		if len(got) != len(ref) {
			t.Fatalf("B=%d: %d outputs, want %d", tc.B, len(got), len(ref))
		}
		for i := range ref {
			if got[i].Meta != ref[i].Meta || len(got[i].Result.Chunks) != len(ref[i].Result.Chunks) {
				t.Fatalf("B=%d prefix %d: output %d (%s) differs", tc.B, len(tc.prefix), i, ref[i].Meta)
			}
			for j, c := range ref[i].Result.Chunks {
				g := got[i].Result.Chunks[j]
				if g.Begin != c.Begin || g.End != c.End || g.Label != c.Label {
					t.Fatalf("B=%d: %s chunk %d %+v, want %+v", tc.B, ref[i].Meta, j, g, c)
				}
			}
		}
	}
}

// TestRecordGroupEndsAtAMarker: with record packing a group is packed when
// its boundary arrives, even while the input stays open.
func TestRecordGroupEndsAtAMarker(t *testing.T) {
	tok := loadTok(t)
	o := DefaultOptions()
	o.Packing = PackRecord
	o.Linger = 5 * time.Millisecond
	a, _ := New(tok, newFake(t, tok, 32, byID), jnlpbaLabels, o)
	in := make(chan Item[int])
	out := make(chan Annotated[int], 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Ordered(ctx, a.Run, in, out)
	in <- Item[int]{Doc: Doc{ID: "a", Text: "IL-2 gene expression requires NF-kappa B."}, Meta: 1}
	in <- Item[int]{Marker: true, Meta: 2}
	for want := 1; want <= 2; want++ {
		select {
		case r := <-out:
			if r.Meta != want {
				t.Fatalf("got item %d, want %d", r.Meta, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("item %d not emitted after the marker while the input stayed open", want)
		}
	}
}
