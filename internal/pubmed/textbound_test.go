package pubmed

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
)

// repeatReader yields n copies of b without allocating them.
type repeatReader struct {
	b byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return int(k), nil
}

// A 256 MiB whitespace text node is rejected without being held (the XML
// decoder used to buffer it whole), and the records around it survive.
func TestHugeTextNodeIsRejectedWithoutBeingHeld(t *testing.T) {
	huge := article("2", "1", "Huge", `<AbstractText>@@</AbstractText>`)
	i := strings.Index(huge, "@@")
	in := io.MultiReader(
		strings.NewReader(header+article("1", "1", "First", "<AbstractText>IL-2 gene.</AbstractText>")+"\n"+huge[:i]),
		&repeatReader{b: ' ', n: 256 << 20},
		strings.NewReader(huge[i+2:]+"\n"+article("3", "1", "Third", "<AbstractText>NF-kB.</AbstractText>")+"\n</PubmedArticleSet>\n"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var ids []string
	var rej bytes.Buffer
	st, err := Parse(context.Background(), in, "huge.xml", func(r Record) error {
		ids = append(ids, r.Doc.ID)
		return nil
	}, WithRejects(&rej))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "1,3" || st.Rejected != 1 || !strings.Contains(rej.String(), "text without markup too long") || !strings.Contains(rej.String(), "huge.xml") {
		t.Fatalf("ids %v, rejected %d, rejects %s; want 1,3 and the huge record rejected by name", ids, st.Rejected, rej.String())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("parsing allocated %d MiB for a 256 MiB text node; want it bounded (< 64 MiB)", alloc>>20)
	}
}

// An entity-expansion bomb in the internal DTD subset is not expanded: the
// DTD is a directive to the decoder, unknown entities stay literal text.
func TestEntityExpansionBombAndDTDAreHarmless(t *testing.T) {
	var dtd strings.Builder
	dtd.WriteString(`<?xml version="1.0"?>` + "\n" + `<!DOCTYPE PubmedArticleSet [` + "\n" + `<!ENTITY lol "lol">` + "\n")
	prev := "lol"
	for k := 1; k <= 9; k++ {
		name := "lol" + string(rune('0'+k))
		dtd.WriteString(`<!ENTITY ` + name + ` "` + strings.Repeat("&"+prev+";", 10) + `">` + "\n")
		prev = name
	}
	dtd.WriteString(`<!ENTITY ext SYSTEM "file:///etc/passwd">` + "\n]>\n<PubmedArticleSet>\n")
	in := dtd.String() + article("7", "1", "Bomb &lol9; &ext;", "<AbstractText>Text &lol9; end.</AbstractText>") + "\n</PubmedArticleSet>\n"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var docs []Record
	_, err := Parse(context.Background(), strings.NewReader(in), "bomb.xml", func(r Record) error {
		docs = append(docs, r)
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || len(docs[0].Doc.Content()) > 200 || strings.Contains(docs[0].Doc.Content(), "root:") {
		t.Fatalf("docs = %+v; want one small document, nothing expanded or read from disk", docs)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Fatalf("parsing a 1 KB bomb allocated %d MiB", alloc>>20)
	}
}
