package enrich

import (
	"testing"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/ner"
	"github.com/nerstream/nerstream/internal/sink"
)

type fakeLinker map[string]string

func (f fakeLinker) Link(text string) (string, string, int) {
	if text == "p50" {
		return "", "", 3
	}
	if id, ok := f[text]; ok {
		return id, "SYM", 1
	}
	return "", "", 0
}

func chunkAt(text, s, label string) ner.Chunk {
	r := []rune(text)
	rs := []rune(s)
	for i := 0; i+len(rs) <= len(r); i++ {
		if string(r[i:i+len(rs)]) == s {
			return ner.Chunk{Begin: i, End: i + len(rs), Text: s, Label: label}
		}
	}
	panic(s)
}

func TestApply(t *testing.T) {
	text := "Title line\nThe protein kinase C (PKC) and interleukin 2 (IL2) bind p50; IL2 too."
	lf := chunkAt(text, "protein kinase C", "protein")
	pkc := chunkAt(text, "PKC", "DNA") // takes the long form's type
	il2lf := chunkAt(text, "interleukin 2", "protein")
	il2 := chunkAt(text, "IL2", "protein")
	p50 := chunkAt(text, "p50", "protein")
	title := chunkAt(text, "Title", "cell_line")
	e := New(WithAbbreviations(true), WithLinker(fakeLinker{"interleukin 2": "NCBIGene:3558", "PKC": "NCBIGene:999"}))
	out := e.Apply(text, []ner.Chunk{title, lf, pkc, il2lf, il2, p50}, formats.SplitTitle(text))
	if out[2].AbbreviationOf == nil || out[2].AbbreviationOf.Text != "protein kinase C" || out[2].Label != "protein" {
		t.Errorf("PKC: %+v", out[2])
	}
	if out[2].GeneID != "" { // linked through its long form only: not the alias "PKC"
		t.Errorf("PKC linked by its own text: %+v", out[2])
	}
	if out[4].GeneID != "NCBIGene:3558" || out[3].GeneID != "NCBIGene:3558" {
		t.Errorf("IL2 / interleukin 2 not linked: %+v %+v", out[4], out[3])
	}
	if out[5].GeneID != "" || out[5].GeneCandidates != 3 {
		t.Errorf("ambiguous p50: %+v", out[5])
	}
	if out[0].GeneCandidates != 0 || out[0].Passage != "title" || out[1].Passage != "abstract" || out[1].PassageOffset != 11 {
		t.Errorf("passages: %+v %+v", out[0], out[1])
	}
	var row sink.Row
	Fill(&row, out[2])
	if row.AbbreviationOf != "protein kinase C" || row.AbbreviationBegin != int32(lf.Begin) || row.Label != "protein" || row.Passage != "abstract" {
		t.Errorf("row %+v", row)
	}
	// Off: chunks are copied unchanged (passages aside).
	plain := New().Apply(text, []ner.Chunk{pkc}, nil)
	if plain[0].Chunk != pkc || plain[0].AbbreviationOf != nil {
		t.Errorf("disabled enricher changed the chunk: %+v", plain[0])
	}
}

func TestPassages(t *testing.T) {
	for _, tc := range []struct {
		d    document.Document
		want []formats.Passage
	}{
		{document.Document{Title: "Tï", Text: "abc"}, []formats.Passage{{Type: "title"}, {Type: "abstract", Offset: 3}}},
		{document.Document{Text: "abc"}, []formats.Passage{{Type: "abstract"}}},
		{document.Document{Title: "T", Text: "a\nb", Passages: document.NewPassages([]document.Passage{{Type: "title"}, {Type: "Intro", Offset: 2}})},
			[]formats.Passage{{Type: "title"}, {Type: "Intro", Offset: 2}}},
	} {
		got := Passages(tc.d)
		if len(got) != len(tc.want) {
			t.Fatalf("%+v: got %+v", tc.d, got)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%+v: got %+v, want %+v", tc.d, got, tc.want)
			}
		}
	}
}

func TestConsistencyRepeatedMentionsAgree(t *testing.T) {
	text := "Jurkat cells and Jurkat T cells; Jurkat again. NF-kappa B (NFkB) binds; NFkB and NFkB."
	at := func(begin int, s, label string, conf float64) ner.Chunk {
		return ner.Chunk{Begin: begin, End: begin + len(s), Text: s, Label: label, Confidence: conf}
	}
	in := []ner.Chunk{
		at(0, "Jurkat", "cell_line", 0.9),
		at(17, "Jurkat", "cell_type", 0.6),
		at(33, "Jurkat", "cell_type", 0.5), // 0.9 vs 1.1: cell_type has the larger sum
		at(47, "NF-kappa B", "protein", 0.9),
		at(59, "NFkB", "protein", 0.4), // abbreviation of a protein: wins over the two DNA votes
		at(72, "NFkB", "DNA", 0.9),
		at(81, "NFkB", "DNA", 0.9),
	}
	for _, tc := range []struct {
		name string
		opts []Option
		want []string
	}{
		{"off", nil, []string{"cell_line", "cell_type", "cell_type", "protein", "protein", "DNA", "DNA"}},
		{"summed confidence", []Option{WithConsistency(true)}, []string{"cell_type", "cell_type", "cell_type", "protein", "DNA", "DNA", "DNA"}},
		{"abbreviation's long-form type wins", []Option{WithAbbreviations(true), WithConsistency(true)}, []string{"cell_type", "cell_type", "cell_type", "protein", "protein", "protein", "protein"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := New(tc.opts...).Apply(text, in, nil)
			if len(out) != len(in) {
				t.Fatalf("%d chunks out of %d: consistency must not add or drop chunks", len(out), len(in))
			}
			for i, c := range out {
				if c.Label != tc.want[i] || c.Begin != in[i].Begin || c.End != in[i].End {
					t.Errorf("chunk %d %q at %d: label %s, want %s", i, c.Text, c.Begin, c.Label, tc.want[i])
				}
			}
		})
	}
}
