package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/sink"
)

const model = "tiny-0123456789ab"

func marker(doc string, v, p int32, off int64, op string) sink.Row {
	return sink.Row{DocID: doc, DocVersion: v, ChunkIndex: sink.DocumentMarker, ModelName: "tiny", ModelVersion: "x",
		Topic: "t", Partition: p, Offset: off, Op: op}
}

func chunk(m sink.Row, i int32, b, e int32, text, label string) sink.Row {
	r := m
	r.ChunkIndex, r.Begin, r.End, r.Text, r.Label, r.Confidence = i, b, e, text, label, 0.5
	r.Passage, r.PassageOffset = "abstract", 0
	return r
}

func store(t *testing.T, files map[[3]int64][]sink.Row) *sink.Store {
	t.Helper()
	s, err := sink.OpenBucket(context.Background(), "file://"+filepath.ToSlash(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for k, rows := range files {
		if err := s.Upload(context.Background(), s.Key(model, "t", int(k[0]), k[1], k[2]), rows); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestCurrentState: highest version wins across partitions, ties go to the
// higher partition/offset, a tombstone withdraws every version, a version
// without entities supersedes one with entities, a re-uploaded message is
// written once.
func TestCurrentState(t *testing.T) {
	a1 := marker("A", 1, 0, 0, sink.OpUpsert)
	a2 := marker("A", 2, 1, 5, sink.OpUpsert)
	b1 := marker("B", 1, 0, 1, sink.OpUpsert)
	bDel := marker("B", 1, 1, 6, sink.OpDelete)
	c1 := marker("C", 3, 0, 2, sink.OpUpsert)
	c2 := marker("C", 1, 1, 7, sink.OpUpsert) // older version, later offset: loses
	d1 := marker("D", 1, 0, 3, sink.OpUpsert)
	d1b := marker("D", 1, 1, 8, sink.OpUpsert) // same version, higher partition: wins
	files := map[[3]int64][]sink.Row{
		{0, 0, 3}: {a1, chunk(a1, 0, 0, 4, "IL-2", "protein"), b1, chunk(b1, 0, 0, 3, "p53", "protein"),
			c1, chunk(c1, 0, 0, 5, "c-fos", "DNA"), d1, chunk(d1, 0, 0, 1, "x", "RNA")},
		{1, 5, 8}: {a2, bDel, c2, chunk(c2, 0, 0, 3, "old", "DNA"), d1b, chunk(d1b, 0, 2, 6, "CD28", "protein")},
		{1, 0, 4}: {}, // an empty file
	}
	files[[3]int64{0, 4, 4}] = files[[3]int64{0, 0, 3}][4:6] // C's message uploaded twice (overlapping range)
	s := store(t, files)
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprint("shards=", shards), func(t *testing.T) {
			var buf bytes.Buffer
			w, _ := formats.NewWriter(&buf, formats.BioCJSON)
			st, err := Run(context.Background(), s, model, w, WithShards(shards))
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			var col struct {
				Documents []struct {
					ID       string
					Passages []struct {
						Annotations []struct{ Text string }
					}
				}
			}
			if err := json.Unmarshal(buf.Bytes(), &col); err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, d := range col.Documents {
				if _, dup := got[d.ID]; dup {
					t.Fatalf("document %s written twice", d.ID)
				}
				got[d.ID] = []string{}
				for _, p := range d.Passages {
					for _, a := range p.Annotations {
						got[d.ID] = append(got[d.ID], a.Text)
					}
				}
			}
			want := map[string][]string{"A": {}, "C": {"c-fos"}, "D": {"CD28"}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("current state = %v, want %v", got, want)
			}
			if st.Documents != 3 || st.Deleted != 1 || st.Annotations != 2 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestResolveModel(t *testing.T) {
	m := marker("A", 1, 0, 0, sink.OpUpsert)
	s := store(t, map[[3]int64][]sink.Row{{0, 0, 0}: {m}})
	if got, err := ResolveModel(context.Background(), s, ""); err != nil || got != model {
		t.Fatalf("ResolveModel = %q, %v", got, err)
	}
	if err := s.Upload(context.Background(), s.Key("other-0123456789ab", "t", 0, 0, 0), []sink.Row{m}); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveModel(context.Background(), s, ""); err == nil || !strings.Contains(err.Error(), "--model") {
		t.Fatalf("two models: err = %v, want a request for --model", err)
	}
}

// TestUnrepresentableIDsAreSkippedAndReported: '|' is legal in an id but
// not in PubTator, and output written before ids with line separators were
// refused may hold them; the export skips exactly those documents, names
// them, and writes the others (BioC writes all of them).
func TestUnrepresentableIDsAreSkippedAndReported(t *testing.T) {
	ids := []string{"A", "B|1", "C", "D\u2028x", "E"}
	var rows []sink.Row
	for i, id := range ids {
		m := marker(id, 1, 0, int64(i), sink.OpUpsert)
		rows = append(rows, m, chunk(m, 0, 0, 4, "IL-2", "protein"))
	}
	s := store(t, map[[3]int64][]sink.Row{{0, 0, int64(len(ids) - 1)}: rows})
	var buf bytes.Buffer
	w, _ := formats.NewWriter(&buf, formats.PubTator)
	st, err := Run(context.Background(), s, model, w)
	if err != nil {
		t.Fatal(err)
	}
	if st.Documents != 3 || st.Unwritable != 2 || !reflect.DeepEqual(st.UnwritableIDs, []string{"B|1", "D\u2028x"}) {
		t.Fatalf("stats %+v, want 3 written and B|1, D\\u2028x reported", st)
	}
	var heads []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if id, _, ok := strings.Cut(line, "\t"); ok {
			heads = append(heads, id)
		}
	}
	if !reflect.DeepEqual(heads, []string{"A", "C", "E"}) {
		t.Fatalf("annotation lines of %v, want A, C, E:\n%s", heads, buf.String())
	}
	buf.Reset()
	w, _ = formats.NewWriter(&buf, formats.BioCJSON)
	if st, err := Run(context.Background(), s, model, w); err != nil || st.Documents != len(ids) || st.Unwritable != 0 {
		t.Fatalf("bioc-json: %+v, %v; want all %d documents", st, err, len(ids))
	}
}
