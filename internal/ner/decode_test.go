package ner

import (
	"reflect"
	"testing"
)

var jnlpbaLabels = []string{"O", "B-DNA", "I-DNA", "B-RNA", "I-RNA", "B-cell_line", "I-cell_line", "B-cell_type", "I-cell_type", "B-protein", "I-protein"}

func idx(ls *labelSet, names ...string) []int {
	out := make([]int, len(names))
	for i, n := range names {
		out[i] = -1
		for j, l := range ls.names {
			if l == n {
				out[i] = j
			}
		}
	}
	return out
}

func TestChunksLikeNerConverter(t *testing.T) {
	ls, err := newLabelSet(jnlpbaLabels)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		path []string
		want []span
	}{
		{"empty", nil, []span{}},
		{"all O", []string{"O", "O"}, []span{}},
		{"B I I", []string{"B-DNA", "I-DNA", "I-DNA"}, []span{{0, 2, "DNA"}}},
		{"leading I starts a chunk", []string{"I-protein", "I-protein", "O"}, []span{{0, 1, "protein"}}},
		{"I after O starts a chunk", []string{"O", "I-RNA"}, []span{{1, 1, "RNA"}}},
		{"B B are two chunks", []string{"B-DNA", "B-DNA"}, []span{{0, 0, "DNA"}, {1, 1, "DNA"}}},
		{"type change splits", []string{"B-DNA", "I-protein", "I-protein"}, []span{{0, 0, "DNA"}, {1, 2, "protein"}}},
		{"O closes", []string{"B-cell_type", "O", "I-cell_type"}, []span{{0, 0, "cell_type"}, {2, 2, "cell_type"}}},
		{"chunk at end", []string{"O", "B-cell_line", "I-cell_line"}, []span{{1, 2, "cell_line"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ls.chunks(idx(ls, c.path...), nil)
			if len(got) == 0 && len(c.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("chunks(%v) = %v, want %v", c.path, got, c.want)
			}
		})
	}
}

// scoresFor builds log-scores where each position strongly prefers one label.
func scoresFor(ls *labelSet, prefer []string, strong float32) []float32 {
	L := len(ls.names)
	s := make([]float32, len(prefer)*L)
	for t, p := range idx(ls, prefer...) {
		for j := range L {
			s[t*L+j] = -10
		}
		s[t*L+p] = strong
	}
	return s
}

func TestViterbiForbidsInvalidBIO(t *testing.T) {
	ls, _ := newLabelSet(jnlpbaLabels)
	L := len(ls.names)
	O, BD, ID, IP := idx(ls, "O")[0], idx(ls, "B-DNA")[0], idx(ls, "I-DNA")[0], idx(ls, "I-protein")[0]

	// argmax would give O I-DNA; Viterbi must not produce O→I-X.
	s := scoresFor(ls, []string{"O", "I-DNA"}, 0)
	s[1*L+BD] = -0.5 // B-DNA is the best valid alternative at t=1
	got := ls.viterbi(s, 2, nil, nil)
	if got[1] == ID && got[0] == O {
		t.Fatalf("viterbi produced O→I-DNA: %v", got)
	}
	for t2 := 1; t2 < len(got); t2++ {
		if !ls.allow[got[t2-1]][got[t2]] {
			t.Fatalf("invalid transition in %v", got)
		}
	}
	if !ls.start[got[0]] {
		t.Fatalf("path starts with I-: %v", got)
	}

	// B-DNA I-protein is invalid; a strong I-protein after B-DNA becomes B-DNA I-DNA or B-DNA B-protein.
	s = scoresFor(ls, []string{"B-DNA", "I-protein"}, 0)
	got = ls.viterbi(s, 2, nil, nil)
	if got[1] == IP {
		t.Fatalf("viterbi produced B-DNA→I-protein: %v", got)
	}
	// A valid argmax path is kept unchanged.
	want := idx(ls, "O", "B-protein", "I-protein", "I-protein", "O", "B-DNA")
	s = scoresFor(ls, ls.namesOf(want), 0)
	if got = ls.viterbi(s, len(want), nil, nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("viterbi changed a valid path: %v, want %v", got, want)
	}
	if got = ls.argmax(s, len(want), nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("argmax = %v, want %v", got, want)
	}
}

func TestViterbiWithCRFTransitions(t *testing.T) {
	ls, _ := newLabelSet([]string{"O", "B-X", "I-X"})
	// Emissions prefer O then I-X; a CRF that strongly rewards O→B-X... we make
	// O→I-X very costly so the decoder picks B-X at t=1.
	crf := &crfScores{trans: []float32{0, 0, -100, 0, 0, 0, 0, 0, 0}, start: []float32{0, 0, -100}, end: []float32{0, 0, 0}}
	em := []float32{5, 0, 0, 0, 1, 2}
	got := ls.viterbi(em, 2, crf, nil)
	if want := []int{0, 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("viterbi with CRF = %v, want %v", got, want)
	}
}

func (ls *labelSet) namesOf(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = ls.names[id]
	}
	return out
}

func TestParseOptions(t *testing.T) {
	for _, s := range []string{"first", "average", "max"} {
		a, err := ParseAggregation(s)
		if err != nil || a.String() != s {
			t.Fatalf("ParseAggregation(%q) = %v, %v", s, a, err)
		}
	}
	for _, s := range []string{"document", "sentence", "stream"} {
		p, err := ParsePacking(s)
		if err != nil || p.String() != s {
			t.Fatalf("ParsePacking(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParseAggregation("median"); err == nil {
		t.Fatal("ParseAggregation accepted median")
	}
	if _, err := ParseDecoding("beam"); err == nil {
		t.Fatal("ParseDecoding accepted beam")
	}
	if _, err := newLabelSet([]string{"O", "X-foo"}); err == nil {
		t.Fatal("newLabelSet accepted X-foo")
	}
}
