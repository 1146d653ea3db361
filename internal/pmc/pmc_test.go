package pmc

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nerstream/nerstream/internal/document"
)

type passage struct{ Type, Text string }

func parseFile(t *testing.T, path string) []document.Document {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []document.Document
	err = Parse(context.Background(), f, path, func(r Record) error {
		if r.Index != int64(len(docs)) {
			t.Errorf("record index %d, want %d", r.Index, len(docs))
		}
		docs = append(docs, r.Doc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// passagesOf cuts a document's content at its passage offsets.
func passagesOf(t *testing.T, d document.Document) []passage {
	t.Helper()
	if err := document.Validate(d, document.DefaultLimits()); err != nil {
		t.Fatalf("document %s invalid: %v", d.ID, err)
	}
	r := []rune(d.Content())
	var out []passage
	ps := d.Passages.List()
	for i, p := range ps {
		end := len(r)
		if i+1 < len(ps) {
			end = ps[i+1].Offset - 1
			if r[end] != '\n' {
				t.Fatalf("%s: passage %d does not end at a newline", d.ID, i)
			}
		}
		out = append(out, passage{p.Type, string(r[p.Offset:end])})
	}
	return out
}

// TestFixtures: the JATS and BioC files made by scripts/make_pmc_testdata.go
// give exactly the expected passages: figures, tables, references, formulas
// and acknowledgements skipped, inline markup flattened, section titles kept.
func TestFixtures(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/pmc/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]passage
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, file := range []string{"PMC9000001.xml", "PMC9000002.xml.gz", "bioc_sample.xml"} {
		for _, d := range parseFile(t, "../../testdata/pmc/"+file) {
			got := passagesOf(t, d)
			w, ok := want[d.ID]
			if !ok {
				t.Fatalf("%s: unexpected document id %q", file, d.ID)
			}
			if len(got) != len(w) {
				t.Fatalf("%s %s: %d passages %+v, want %d %+v", file, d.ID, len(got), got, len(w), w)
			}
			for i := range w {
				if got[i] != w[i] {
					t.Errorf("%s %s passage %d = %+v, want %+v", file, d.ID, i, got[i], w[i])
				}
			}
			for _, bad := range []string{"FIGURE", "TABLE", "REFERENCE", "ACKNOWLEDGEMENT", "Figure title", "CC BY"} {
				if strings.Contains(d.Content(), bad) {
					t.Errorf("%s %s: content holds skipped text %q", file, d.ID, bad)
				}
			}
			seen++
		}
	}
	if seen != len(want) {
		t.Fatalf("%d documents, want %d", seen, len(want))
	}
}

func TestErrorsNameTheInput(t *testing.T) {
	for name, in := range map[string]string{
		"no id":      `<article><front><article-meta><title-group><article-title>T</article-title></title-group></article-meta></front></article>`,
		"truncated":  `<article><front><article-meta><article-id pub-id-type="pmc">1</article-id>`,
		"other root": `<PubmedArticleSet><PubmedArticle/></PubmedArticleSet>`,
		"bioc no id": `<collection><source>x</source><document><passage><offset>0</offset><text>t</text></passage></document></collection>`,
		"empty":      ``,
	} {
		err := Parse(context.Background(), strings.NewReader(in), "f.xml", func(Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "f.xml") {
			t.Errorf("%s: err = %v, want an error naming f.xml", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../testdata/pmc/PMC9000001.xml", "../../testdata/pmc/bioc_sample.xml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		Parse(context.Background(), strings.NewReader(s), "fuzz", func(r Record) error {
			c := r.Doc.Content()
			if !utf8.ValidString(c) {
				return nil // invalid input bytes pass through; the producer's validation rejects them
			}
			n := utf8.RuneCountInString(c)
			prev := -1
			for _, p := range r.Doc.Passages.List() {
				if p.Offset <= prev || p.Offset >= max(n, 1) {
					t.Fatalf("passage offsets %+v outside %d code points", r.Doc.Passages, n)
				}
				prev = p.Offset
			}
			return nil
		})
	})
}
