package pubmed

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/corpus"
	"github.com/nerstream/nerstream/internal/document"
)

const (
	baselineFile = "../../testdata/pubmed/pubmed26n0001.xml.gz"
	updateFile   = "../../testdata/pubmed/pubmed26n1300.xml.gz"
)

func parseFileAll(t *testing.T, path string) ([]Record, Stats) {
	t.Helper()
	var recs []Record
	var rej strings.Builder
	st, err := ParseFile(context.Background(), path, func(r Record) error { recs = append(recs, r); return nil }, WithRejects(&rej))
	if err != nil || rej.Len() > 0 {
		t.Fatalf("%s: %v %s", path, err, rej.String())
	}
	return recs, st
}

// TestTestdataFiles checks the committed PubMed test files: their shape and,
// when the JNLPBA devel documents are available, that every baseline
// document's Content() equals its devel text.
func TestTestdataFiles(t *testing.T) {
	base, st := parseFileAll(t, baselineFile)
	if !st.Gzip || st.Articles != 199 || st.BookArticles != 1 || st.Deletes != 0 {
		t.Errorf("baseline stats %+v", st)
	}
	ids := map[string]bool{}
	for _, r := range base {
		ids[r.Doc.ID] = true
		if r.Doc.Version != 1 || r.Doc.Title == "" || r.Doc.Text == "" || strings.ContainsAny(r.Doc.Content(), "<>") && !strings.Contains(r.Doc.Content(), " ") {
			t.Errorf("baseline record %d: %+v", r.Index, r.Doc)
		}
		if strings.Contains(r.Doc.Content(), "<i>") || strings.Contains(r.Doc.Content(), "<sup>") {
			t.Errorf("record %s: markup not flattened", r.Doc.ID)
		}
	}
	if len(ids) != 200 {
		t.Errorf("%d distinct PMIDs", len(ids))
	}
	upd, st := parseFileAll(t, updateFile)
	if st.Articles != 3 || st.Deletes != 3 {
		t.Errorf("update stats %+v", st)
	}
	for _, r := range upd {
		switch r.Kind {
		case KindArticle:
			if r.Doc.Version != 2 || !ids[r.Doc.ID] {
				t.Errorf("revised article %+v", r.Doc)
			}
		case KindDelete:
			if r.Doc.Op != document.OpDelete || r.Doc.Text != "" {
				t.Errorf("delete %+v", r.Doc)
			}
		}
	}

	develDocs, ok := corpus.Path("devel.docs.jsonl")
	if !ok {
		t.Skip("JNLPBA devel documents not available")
	}
	f, err := os.Open(develDocs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	i := 0
	for ; sc.Scan(); i++ {
		var d struct{ PMID, Text string }
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if i >= len(base) {
			t.Fatalf("devel has more than %d documents", len(base))
		}
		if base[i].Doc.ID != d.PMID || base[i].Doc.Content() != strings.TrimSuffix(d.Text, "\n") {
			t.Errorf("document %d (PMID %s) differs from devel:\n got %q\nwant %q", i, d.PMID, base[i].Doc.Content(), d.Text)
		}
	}
	if i != len(base) {
		t.Errorf("devel has %d documents, baseline %d", i, len(base))
	}
}
