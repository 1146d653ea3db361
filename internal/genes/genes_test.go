package genes

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"IL-2", "il2"},
		{"IL2", "il2"},
		{"il 2", "il2"},
		{"Interleukin-2 gene", "interleukin2"},
		{"TNF-α", "tnfalpha"},
		{"TNF alpha", "tnfalpha"},
		{"NF-κB", "nfkappab"},
		{"human GATA-1 protein", "gata1"},
		{"c-fos mRNA", "cfos"},
		{"ELK-1 proteins", "elk1"},
		{"protein", "protein"},
		{"human", "human"},
		{"--", ""},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func testDict(t *testing.T) *Dict {
	t.Helper()
	var buf bytes.Buffer
	err := Write(&buf, []Entry{
		{Normalize("IL2"), RankSymbol, "NCBIGene:3558", "IL2"},
		{Normalize("interleukin 2"), RankName, "NCBIGene:3558", "IL2"},
		{Normalize("IL1B"), RankSymbol, "NCBIGene:3553", "IL1B"},
		{Normalize("p50"), RankAlias, "NCBIGene:4790", "NFKB1"},
		{Normalize("p50"), RankAlias, "NCBIGene:958", "CD40"},
		{Normalize("CD4"), RankSymbol, "NCBIGene:920", "CD4"},
		{Normalize("CD4"), RankAlias, "NCBIGene:1", "OTHER"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "d.tsv")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLink(t *testing.T) {
	d := testDict(t)
	for _, tc := range []struct {
		in, id string
		n      int
	}{
		{"IL-2", "NCBIGene:3558", 1},
		{"Interleukin-2 protein", "NCBIGene:3558", 1},
		{"IL-1 beta", "NCBIGene:3553", 1}, // Greek initial fallback
		{"IL-1β", "NCBIGene:3553", 1},
		{"p50", "", 2},             // ambiguous alias: unlinked, marked by the count
		{"CD4", "NCBIGene:920", 1}, // symbol beats alias
		{"X", "", 0},               // too short
		{"unknown thing", "", 0},
	} {
		id, _, n := d.Link(tc.in)
		if id != tc.id || n != tc.n {
			t.Errorf("Link(%q) = %q, %d; want %q, %d", tc.in, id, n, tc.id, tc.n)
		}
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"header":   "key\t0\tNCBIGene:1\tA\n",
		"fields":   Header + "\nkey\t0\tNCBIGene:1\n",
		"unsorted": Header + "\nb\t0\tNCBIGene:1\tB\na\t0\tNCBIGene:2\tA\n",
		"newline":  Header + "\na\t0\tNCBIGene:1\tA",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want one naming the file", name, err)
		}
	}
}

// dictPath is the dictionary make setup builds.
func dictPath(t *testing.T) string {
	wd, _ := os.Getwd()
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, ".cache", "genes", "hs.genes.tsv")
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("gene dictionary missing: %v (make setup builds it)", err)
			}
			return p
		}
	}
	t.Fatal("repository root not found")
	return ""
}

// TestCheckedLinks recomputes linking precision on the hand-checked devel
// links (testdata/genes/README.md) with the dictionary built by setup.
func TestCheckedLinks(t *testing.T) {
	d, err := Load(dictPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() < 200000 {
		t.Fatalf("dictionary has %d entries, want the whole of org.Hs.eg.db (>200k)", d.Len())
	}
	f, err := os.Open("../../testdata/genes/devel.linked.checked.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	linked, correct, checked := 0, 0, 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		p := strings.Split(sc.Text(), "\t")
		n, _ := strconv.Atoi(p[4])
		checked += n
		text := p[0]
		if p[1] != "" {
			text = p[1]
		}
		if id, _, _ := d.Link(text); id != p[2] {
			continue // no longer made: not in the measurement
		}
		linked += n
		if p[5] == "correct" {
			correct += n
		}
	}
	if checked < 200 {
		t.Fatalf("%d checked mentions, want >= 200", checked)
	}
	prec := float64(correct) / float64(linked)
	t.Logf("gene links: %d checked mentions, %d still linked the same, %d correct: precision %.4f", checked, linked, correct, prec)
	if linked < 200 || prec < 0.80 {
		t.Fatalf("precision %.4f on %d mentions; want >= 0.80 on >= 200", prec, linked)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"IL-2", "TNF-α", "human GATA-1 protein", "", "ß-ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Normalize(s)
		if Normalize(k) != k && !strings.HasPrefix(k, "human") {
			t.Fatalf("Normalize not idempotent on %q: %q → %q", s, k, Normalize(k))
		}
		if strings.ContainsAny(k, " -\t\n") {
			t.Fatalf("key %q has separators", k)
		}
	})
}

func FuzzLoad(f *testing.F) {
	f.Add(Header + "\nil2\t0\tNCBIGene:3558\tIL2\n")
	f.Add(Header + "\na\t0\tx\ty\nb\t1\tx\ty\n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "d.tsv")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := Load(p)
		if err != nil {
			return
		}
		for i := 0; i < d.Len(); i++ {
			k, _, _, _ := d.entry(i)
			d.lookup(k) // must not panic
		}
		d.Link(s)
	})
}
