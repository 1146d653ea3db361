package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/sink"
)

const pubmedFile = "../testdata/pubmed/pubmed26n0001.xml.gz"

// genesDict is the dictionary make setup builds; tests fail without it.
func genesDict(t *testing.T) string {
	p, err := filepath.Abs("../.cache/genes/hs.genes.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("gene dictionary missing (make setup builds it): %v", err)
	}
	return p
}

func annotate(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), "worker"), append([]string{"annotate", "--model", testModel}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("worker annotate %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestAnnotatePubMedXMLFormats: worker annotate reads a PubMed .xml.gz
// directly and writes PubTator (read back by the independent node reader,
// which checks every offset against title + " " + abstract), BioC XML and
// BioC JSON with the same annotations.
func TestAnnotatePubMedXMLFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	pt := annotate(t, "--in", pubmedFile, "--format", "pubtator")
	node := exec.Command("node", "../scripts/pubtator_read.js")
	node.Stdin = bytes.NewReader(pt)
	var stderr bytes.Buffer
	node.Stderr = &stderr
	read, err := node.Output()
	if err != nil {
		t.Fatalf("independent PubTator reader: %v: %s", err, stderr.String())
	}
	docs, anns := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(read))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var d struct {
			ID, Title   string
			Annotations []json.RawMessage
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if d.Title == "" {
			t.Fatalf("document %s has no title line", d.ID)
		}
		docs++
		anns += len(d.Annotations)
	}
	if docs < 50 || anns < docs {
		t.Fatalf("%d documents, %d annotations from %s", docs, anns, pubmedFile)
	}

	var col struct {
		Documents []struct {
			ID       string `xml:"id"`
			Passages []struct {
				Offset      int `xml:"offset"`
				Annotations []struct {
					Location struct {
						Offset int `xml:"offset,attr"`
						Length int `xml:"length,attr"`
					} `xml:"location"`
				} `xml:"annotation"`
			} `xml:"passage"`
		} `xml:"document"`
	}
	if err := xml.Unmarshal(annotate(t, "--in", pubmedFile, "--format", "bioc-xml"), &col); err != nil {
		t.Fatal(err)
	}
	xa := 0
	for _, d := range col.Documents {
		for _, p := range d.Passages {
			xa += len(p.Annotations)
		}
	}
	if len(col.Documents) != docs || xa != anns {
		t.Fatalf("BioC XML: %d documents / %d annotations, PubTator %d / %d", len(col.Documents), xa, docs, anns)
	}
	var jc struct{ Documents []json.RawMessage }
	if err := json.Unmarshal(annotate(t, "--in", pubmedFile, "--format", "bioc-json"), &jc); err != nil || len(jc.Documents) != docs {
		t.Fatalf("BioC JSON: %v, %d documents", err, len(jc.Documents))
	}
}

// TestAnnotateEnrichedJSONL: with the setup-built gene dictionary the JSON
// lines carry gene ids, and short forms carry their long form with a span
// that selects it in the text.
func TestAnnotateEnrichedJSONL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	in := "../testdata/jnlpba/devel.docs.jsonl"
	out := annotate(t, "--in", in, "--genes", genesDict(t))
	text := inputTexts(t, in)
	genes, abbrevs := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var c struct {
			DocID          string `json:"doc_id"`
			Text           string `json:"text"`
			GeneID         string `json:"gene_id"`
			AbbreviationOf *struct {
				Begin, End int
				Text       string
			} `json:"abbreviation_of"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		if c.GeneID != "" {
			if !strings.HasPrefix(c.GeneID, "NCBIGene:") {
				t.Fatalf("gene id %q", c.GeneID)
			}
			genes++
		}
		if a := c.AbbreviationOf; a != nil {
			r := text[c.DocID]
			if string(r[a.Begin:a.End]) != a.Text {
				t.Fatalf("abbreviation_of %+v does not select its text", a)
			}
			abbrevs++
		}
	}
	if genes == 0 || abbrevs == 0 {
		t.Fatalf("%d gene links, %d short forms on devel", genes, abbrevs)
	}
	t.Logf("tiny model on devel: %d gene links, %d short forms", genes, abbrevs)
}

// TestExportWorkerRunOutput: worker run writes Parquet with the new columns;
// worker export turns it into PubTator whose annotations are exactly the
// entity rows (every document once), read back by the independent reader.
func TestExportWorkerRunOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	c := newCluster(t, 2)
	c.extra = append(c.extra, "--genes", genesDict(t))
	docs := testDocs(t, 40)
	c.startWorker(0)
	c.publish(docs, 4, 0)
	rows := c.waitRows(ids(docs), 120*time.Second)
	c.stopAll()
	want := map[string]bool{}
	passages := 0
	for _, r := range rows {
		if r.ChunkIndex != sink.DocumentMarker {
			want[r.DocID+"|"+r.Text+"|"+r.Label+"|"+r.GeneID] = true
			if r.Passage != "" {
				passages++
			}
		}
	}
	if passages == 0 {
		t.Fatal("no row has a passage")
	}
	cmd := exec.Command(filepath.Join(binaries(t), "worker"), "export", "--in", c.outURL, "--format", "pubtator")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pt, err := cmd.Output()
	if err != nil {
		t.Fatalf("worker export: %v\n%s", err, stderr.String())
	}
	node := exec.Command("node", "../scripts/pubtator_read.js")
	node.Stdin = bytes.NewReader(pt)
	read, err := node.Output()
	if err != nil {
		t.Fatalf("independent reader: %v", err)
	}
	got := map[string]bool{}
	nd := 0
	for _, line := range strings.Split(strings.TrimSpace(string(read)), "\n") {
		var d struct {
			ID          string
			Annotations []struct{ Text, Type, ID string }
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		nd++
		for _, a := range d.Annotations {
			got[d.ID+"|"+a.Text+"|"+a.Type+"|"+a.ID] = true
		}
	}
	if nd != len(docs) || len(got) != len(want) {
		t.Fatalf("export: %d documents (want %d), %d distinct annotations (want %d)\n%s", nd, len(docs), len(got), len(want), stderr.String())
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("row %q missing from the export", k)
		}
	}
}
