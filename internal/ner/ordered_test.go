package ner

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestOrderedMarkersKeepTheirPlace: markers interleaved with documents come
// out exactly where they went in, and the documents' results are those of a
// plain Annotate, for batch sizes where documents span several batches.
func TestOrderedMarkersKeepTheirPlace(t *testing.T) {
	tok := loadTok(t)
	docs := devDocs(t, 40)
	rng := rand.New(rand.NewPCG(7, 9))
	type meta struct{ seq int }
	var items []Item[meta]
	for i, d := range docs {
		for range rng.IntN(3) { // 0–2 markers before each document
			items = append(items, Item[meta]{Marker: true, Meta: meta{len(items)}})
		}
		if i%5 == 0 {
			d.Text = "" // empty documents are no markers
		}
		items = append(items, Item[meta]{Doc: d, Meta: meta{len(items)}})
	}
	items = append(items, Item[meta]{Marker: true, Meta: meta{len(items)}})

	for _, tc := range []struct {
		B  int
		pk Packing
	}{{1, PackDocument}, {3, PackDocument}, {32, PackDocument}, {1, PackRecord}, {32, PackRecord}} {
		B := tc.B
		o := DefaultOptions()
		o.Packing = tc.pk
		a, err := New(tok, newFake(t, tok, B, byID), jnlpbaLabels, o)
		if err != nil {
			t.Fatal(err)
		}
		var plain []Doc
		for _, it := range items {
			if !it.Marker {
				plain = append(plain, it.Doc)
			}
		}
		want, err := a.Annotate(context.Background(), plain)
		if err != nil {
			t.Fatal(err)
		}
		windows := a.Stats().Windows

		in := make(chan Item[meta], 4)
		out := make(chan Annotated[meta], 4)
		errc := make(chan error, 1)
		go func() { errc <- Ordered(context.Background(), a.Run, in, out) }()
		go func() {
			defer close(in)
			for _, it := range items {
				in <- it
			}
		}()
		var got []Annotated[meta]
		for o := range out {
			got = append(got, o)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if len(got) != len(items) {
			t.Fatalf("B=%d: %d outputs for %d items", B, len(got), len(items))
		}
		k := 0
		for i, o := range got {
			if o.Meta.seq != i || o.Marker != items[i].Marker {
				t.Fatalf("B=%d: output %d is item %d (marker %v), want item %d (marker %v)", B, i, o.Meta.seq, o.Marker, i, items[i].Marker)
			}
			if o.Marker {
				if !reflect.DeepEqual(o.Result, Result{}) {
					t.Fatalf("B=%d: marker %d carries a result %+v", B, i, o.Result)
				}
				continue
			}
			w := want[k]
			k++
			if o.Result.Doc.ID != w.Doc.ID || !reflect.DeepEqual(o.Result.Chunks, w.Chunks) || o.Result.Doc.Meta != nil {
				t.Fatalf("B=%d: document %q differs from its plain annotation", B, w.Doc.ID)
			}
		}
		// A marker takes no window; with record packing it ends a group,
		// so only the document packing's window count is comparable.
		if extra := a.Stats().Windows - 2*windows; tc.pk == PackDocument && extra != 0 {
			t.Fatalf("B=%d: markers cost %d windows", B, extra)
		}
		// Markers are no documents: "worker stopped" reports Stats().Docs.
		if n := a.Stats().Docs; n != 2*int64(len(plain)) {
			t.Fatalf("B=%d: Stats().Docs = %d after two runs of %d documents (markers counted?)", B, n, len(plain))
		}
	}
}

func TestOrderedReturnsRunError(t *testing.T) {
	tok := loadTok(t)
	a, _ := New(tok, errRunner{}, jnlpbaLabels, DefaultOptions())
	in := make(chan Item[int], 2)
	out := make(chan Annotated[int], 1)
	in <- Item[int]{Doc: Doc{ID: "x", Text: "A sentence."}}
	in <- Item[int]{Marker: true} // ends the record group: the batch runs
	errc := make(chan error, 1)
	go func() { errc <- Ordered(context.Background(), a.Run, in, out) }()
	for range out {
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want the runner's error", err)
	}
	// The feeder must not block senders after the pipeline stopped.
	in <- Item[int]{Marker: true}
	close(in)
}

func TestOrderedRejectsForeignMeta(t *testing.T) {
	// A run that does not carry Doc.Meta through breaks the contract.
	bad := func(ctx context.Context, in <-chan Doc, out chan<- Result) error {
		defer close(out)
		for d := range in {
			out <- Result{Doc: Doc{ID: d.ID, Meta: "replaced"}}
		}
		return nil
	}
	in := make(chan Item[int], 1)
	out := make(chan Annotated[int], 1)
	in <- Item[int]{Doc: Doc{ID: "x"}}
	close(in)
	err := Ordered(context.Background(), bad, in, out)
	if err == nil || !strings.Contains(err.Error(), "foreign metadata") {
		t.Fatalf("err = %v, want a contract error", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal("contract error reported as cancellation")
	}
}
