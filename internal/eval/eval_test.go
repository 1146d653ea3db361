package eval

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/corpus"
)

func TestScorerExactAndPartial(t *testing.T) {
	s := NewScorer()
	gold := []Span{{0, 5, "protein"}, {10, 20, "DNA"}, {30, 35, "cell_type"}}
	pred := []Span{{0, 5, "protein"}, {10, 18, "DNA"}, {40, 45, "RNA"}}
	s.Add(gold, pred)
	r := s.Report()
	if r.Micro.TP != 1 || r.Micro.FP != 2 || r.Micro.FN != 2 {
		t.Fatalf("micro counts = %+v", r.Micro.Counts)
	}
	if got := r.Micro.F1; got < 0.333 || got > 0.334 {
		t.Fatalf("micro F1 = %v, want 1/3", got)
	}
	if p := r.PartialMicro; p.TP != 2 || p.FP != 1 || p.FN != 1 {
		t.Fatalf("partial = %+v", p.Counts)
	}
	if l := r.PerLabel["DNA"]; l.TP != 0 || l.FP != 1 || l.FN != 1 {
		t.Fatalf("DNA = %+v", l.Counts)
	}
	if l := r.PerLabel["cell_type"]; l.Recall != 0 || l.Support != 1 {
		t.Fatalf("cell_type = %+v", l)
	}
}

func TestDuplicatePredictionsAreFalsePositives(t *testing.T) {
	s := NewScorer()
	s.Add([]Span{{0, 3, "DNA"}}, []Span{{0, 3, "DNA"}, {0, 3, "DNA"}})
	if c := s.Report().Micro.Counts; c.TP != 1 || c.FP != 1 {
		t.Fatalf("counts = %+v", c)
	}
}

func TestChunksFromTagsConlleval(t *testing.T) {
	cases := []struct {
		tags []string
		want []Span
	}{
		{[]string{"B-DNA", "I-DNA", "O"}, []Span{{0, 2, "DNA"}}},
		{[]string{"I-DNA", "I-DNA"}, []Span{{0, 2, "DNA"}}},
		{[]string{"B-DNA", "I-RNA"}, []Span{{0, 1, "DNA"}, {1, 2, "RNA"}}},
		{[]string{"B-DNA", "B-DNA"}, []Span{{0, 1, "DNA"}, {1, 2, "DNA"}}},
		{[]string{"O", "O"}, nil},
	}
	for _, c := range cases {
		if got := ChunksFromTags(c.tags); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ChunksFromTags(%v) = %v, want %v", c.tags, got, c.want)
		}
	}
}

func TestTagsFromChunksRoundTrip(t *testing.T) {
	s := Sentence{Tokens: []string{"IL-2", "gene", "in", "T", "cells"}, Tags: []string{"B-DNA", "I-DNA", "O", "B-cell_type", "I-cell_type"}}
	text, toks := s.Text()
	if text != "IL-2 gene in T cells" {
		t.Fatalf("text %q", text)
	}
	var chunks []Span
	for _, c := range ChunksFromTags(s.Tags) {
		chunks = append(chunks, Span{Begin: toks[c.Begin].Begin, End: toks[c.End-1].End, Label: c.Label})
	}
	if got := TagsFromChunks(toks, chunks); !reflect.DeepEqual(got, s.Tags) {
		t.Fatalf("round trip %v, want %v", got, s.Tags)
	}
}

func TestDocumentsJoinSentencesOfOneHeader(t *testing.T) {
	sents := []Sentence{
		{Doc: "1", Tokens: []string{"IL-2", "binds", "."}, Tags: []string{"B-protein", "O", "O"}},
		{Doc: "1", Tokens: []string{"Über", "cells"}, Tags: []string{"B-cell_type", "I-cell_type"}},
		{Doc: "2", Tokens: []string{"NF-kB"}, Tags: []string{"B-protein"}},
		{Tokens: []string{"a"}, Tags: []string{"O"}},
		{Tokens: []string{"b"}, Tags: []string{"O"}},
	}
	ds := Documents(sents)
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if want := []string{"1", "2", "sentence-4", "sentence-5"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("documents %v, want %v", ids, want)
	}
	d := ds[0]
	if d.Text != "IL-2 binds .\nÜber cells" || len(d.Sentences) != 2 {
		t.Fatalf("text %q with %d sentences", d.Text, len(d.Sentences))
	}
	runes := []rune(d.Text)
	for i, toks := range d.Tokens {
		for j, sp := range toks {
			if got := string(runes[sp.Begin:sp.End]); got != d.Sentences[i].Tokens[j] {
				t.Errorf("sentence %d token %d spans %q, want %q", i, j, got, d.Sentences[i].Tokens[j])
			}
		}
	}
	// A chunk over the second sentence's tokens maps back to its tags.
	c := Span{Begin: d.Tokens[1][0].Begin, End: d.Tokens[1][1].End, Label: "cell_type"}
	if got := TagsFromChunks(d.Tokens[1], []Span{c}); !reflect.DeepEqual(got, sents[1].Tags) {
		t.Fatalf("tags %v, want %v", got, sents[1].Tags)
	}
	if got := TagsFromChunks(d.Tokens[0], []Span{c}); !reflect.DeepEqual(got, []string{"O", "O", "O"}) {
		t.Fatalf("a chunk of sentence 2 tagged sentence 1: %v", got)
	}
}

func TestReadErrorsNameTheInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.iob2")
	os.WriteFile(bad, []byte("IL-2\tB-DNA\nfoo\tX-bar\n"), 0o644)
	if _, err := ReadIOB(bad); err == nil || !contains(err.Error(), "bad.iob2:2") {
		t.Fatalf("err = %v, want file:line", err)
	}
	badj := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(badj, []byte(`{"id":"1","text":"abc","entities":[{"begin":0,"end":9,"label":"DNA"}]}`+"\n"), 0o644)
	if _, err := ReadDocs(badj); err == nil || !contains(err.Error(), "bad.jsonl:1") {
		t.Fatalf("err = %v, want file:line", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestReadJNLPBADevel(t *testing.T) {
	p, ok := corpus.Path("devel.iob2")
	if !ok {
		t.Skip("JNLPBA data not available")
	}
	sents, err := ReadIOB(p)
	if err != nil {
		t.Fatal(err)
	}
	// Gold against itself scores 1.0.
	s := NewScorer()
	n := 0
	for _, st := range sents {
		c := ChunksFromTags(st.Tags)
		n += len(c)
		s.Add(c, c)
	}
	if r := s.Report(); r.Micro.F1 != 1 || n == 0 {
		t.Fatalf("gold vs gold F1 = %v over %d chunks", r.Micro.F1, n)
	}
}

// FuzzReaders: the gold readers never panic, and what they accept is
// consistent (entities inside the text, tags IOB2).
func FuzzReaders(f *testing.F) {
	f.Add([]byte("###MEDLINE:1\n\nIL-2\tB-protein\ngene\tI-protein\n\n"), []byte(`{"id":"1","text":"abc","entities":[{"begin":0,"end":2,"label":"DNA"}]}`))
	f.Add([]byte("x\n"), []byte("{"))
	f.Fuzz(func(t *testing.T, iob, docs []byte) {
		dir := t.TempDir()
		pi, pd := filepath.Join(dir, "f.iob2"), filepath.Join(dir, "f.jsonl")
		os.WriteFile(pi, iob, 0o644)
		os.WriteFile(pd, docs, 0o644)
		if sents, err := ReadIOB(pi); err == nil {
			for _, d := range Documents(sents) {
				runes := []rune(d.Text)
				for i, toks := range d.Tokens {
					for j, sp := range toks {
						if sp.Begin < 0 || sp.End > len(runes) || string(runes[sp.Begin:sp.End]) != d.Sentences[i].Tokens[j] {
							t.Fatalf("document %s: token %q at %+v", d.ID, d.Sentences[i].Tokens[j], sp)
						}
					}
				}
			}
			for _, s := range sents {
				if len(s.Tokens) != len(s.Tags) || len(s.Tokens) == 0 {
					t.Fatalf("sentence with %d tokens, %d tags", len(s.Tokens), len(s.Tags))
				}
				for _, c := range ChunksFromTags(s.Tags) {
					if c.Begin < 0 || c.End > len(s.Tags) || c.Begin >= c.End {
						t.Fatalf("chunk %+v outside %d tags", c, len(s.Tags))
					}
				}
			}
		}
		if ds, err := ReadDocs(pd); err == nil {
			for _, d := range ds {
				n := len([]rune(d.Text))
				for _, e := range d.Entities {
					if e.Begin < 0 || e.End > n || e.Begin >= e.End {
						t.Fatalf("entity %+v outside %d code points", e, n)
					}
				}
			}
		}
	})
}

func TestReadDocsMaxRefusesLargeDocumentsNamingThem(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gold.docs.jsonl")
	data := `{"id":"ok","text":"IL-2","entities":[]}` + "\n" + `{"id":"big","text":"` + strings.Repeat("x", 5000) + `","entities":[]}` + "\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDocsMax(p, 1000); err == nil || !strings.Contains(err.Error(), p+":2") || !strings.Contains(err.Error(), `"big"`) {
		t.Fatalf("ReadDocsMax = %v, want a refusal naming %s:2 and the document", err, p)
	}
	if docs, err := ReadDocsMax(p, 10000); err != nil || len(docs) != 2 {
		t.Fatalf("with a higher limit: %d docs, %v", len(docs), err)
	}
	long := filepath.Join(t.TempDir(), "long.docs.jsonl")
	os.WriteFile(long, []byte(`{"id":"huge","text":"`+strings.Repeat("y", 10<<20)+`"}`), 0o644)
	if _, err := ReadDocsMax(long, 1000); err == nil || !strings.Contains(err.Error(), "line longer than") {
		t.Fatalf("a 10 MB line with a 1000-byte limit: %v", err)
	}
}

func TestReweightedScalesEachLabelToTheMix(t *testing.T) {
	r := Report{PerLabel: map[string]Scores{
		// DNA: 10 gold, 5 found, 5 false alarms; protein: 10 gold, 9 found, 1 false alarm.
		"DNA":     {Counts: Counts{TP: 5, FP: 5, FN: 5}, Support: 10},
		"protein": {Counts: Counts{TP: 9, FP: 1, FN: 1}, Support: 10},
		"other":   {Counts: Counts{TP: 1, FP: 100, FN: 0}, Support: 1}, // not in the mix: ignored
	}}
	for _, tc := range []struct {
		name string
		mix  map[string]int
		p, r float64
	}{
		{"equal mix is plain micro over the mixed labels", map[string]int{"DNA": 1, "protein": 1}, 14.0 / 20, 14.0 / 20},
		{"protein-heavy mix", map[string]int{"DNA": 10, "protein": 90}, (5 + 81.0) / (10 + 90), (5 + 81.0) / 100},
		{"DNA only", map[string]int{"DNA": 3}, 0.5, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := r.Reweighted(tc.mix)
			if math.Abs(s.Precision-tc.p) > 1e-9 || math.Abs(s.Recall-tc.r) > 1e-9 {
				t.Fatalf("P %v R %v, want %v %v", s.Precision, s.Recall, tc.p, tc.r)
			}
			if f := 2 * tc.p * tc.r / (tc.p + tc.r); math.Abs(s.F1-f) > 1e-9 {
				t.Fatalf("F1 %v, want %v", s.F1, f)
			}
		})
	}
	if s := (Report{}).Reweighted(JNLPBAEvaluationMix); s.Support != 0 || s.F1 != 0 {
		t.Fatalf("empty report reweighted = %+v", s)
	}
}
