package formats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// docs returns documents with a title/abstract split, non-ASCII text (code
// point offsets differ from bytes), a linked and an unlinked annotation, and
// a document without text (export from Parquet).
func docs() []Document {
	text := "Interleukin 2 (IL-2) and TNF-α.\nThe IL-2 promoter binds NF-κB in T cells."
	r := []rune(text)
	at := func(s string, nth int) Annotation {
		k := 0
		rs := []rune(s)
		for i := 0; i+len(rs) <= len(r); i++ {
			if string(r[i:i+len(rs)]) == s {
				if k == nth {
					return Annotation{Begin: i, End: i + len(rs), Text: s}
				}
				k++
			}
		}
		panic(s)
	}
	a1 := at("Interleukin 2", 0)
	a1.Type, a1.Identifier = "protein", "NCBIGene:3558"
	a2 := at("IL-2", 0)
	a2.Type, a2.Identifier, a2.Infons = "protein", "NCBIGene:3558", [][2]string{{"abbreviation_of", "Interleukin 2"}}
	a3 := at("NF-κB", 0)
	a3.Type = "protein"
	a4 := at("T cells", 0)
	a4.Type = "cell_type"
	return []Document{
		{ID: "1", Passages: SplitTitle(text), Annotations: []Annotation{a1, a2, a3, a4}},
		{ID: "2", Annotations: []Annotation{{Begin: 4, End: 8, Text: "IL-2", Type: "DNA"}}},
	}
}

func write(t *testing.T, f Format, ds []Document) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := w.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBioCXMLStructure checks the output against the element structure of
// BioC.dtd: collection (source, date, key, infon*, document*); document
// (id, infon*, passage*); passage (infon*, offset, text?, annotation*);
// annotation (infon*, location*, text) with location offset/length
// selecting the annotation's text in the document.
func TestBioCXMLStructure(t *testing.T) {
	ds := docs()
	out := write(t, BioCXML, ds)
	if !bytes.HasPrefix(out, []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE collection SYSTEM \"BioC.dtd\">")) {
		t.Fatalf("missing XML declaration / BioC doctype: %.120s", out)
	}
	type node struct {
		name     string
		attrs    map[string]string
		text     string
		children []*node
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			n := &node{name: v.Name.Local, attrs: map[string]string{}}
			for _, a := range v.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				stack[len(stack)-1].children = append(stack[len(stack)-1].children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(v)
			}
		}
	}
	// seq checks that the children's names match the DTD content model
	// given as a regular expression over space-separated names.
	seq := func(n *node, model string) {
		var names []string
		for _, c := range n.children {
			names = append(names, c.name)
		}
		got := strings.Join(names, " ")
		if !regexpMatch(model, got) {
			t.Fatalf("<%s> children %q do not match the BioC content model %s", n.name, got, model)
		}
	}
	if root == nil || root.name != "collection" {
		t.Fatalf("root is not <collection>")
	}
	seq(root, `^source date key( infon)*( document)*$`)
	if len(root.children) != 3+len(ds) {
		t.Fatalf("%d collection children, want %d documents", len(root.children)-3, len(ds))
	}
	for di, d := range root.children[3:] {
		seq(d, `^id( infon)*( passage)*$`)
		if d.children[0].text != ds[di].ID {
			t.Fatalf("document id %q, want %q", d.children[0].text, ds[di].ID)
		}
		full := []rune(strings.Join(func() []string {
			var s []string
			for _, p := range ds[di].Passages {
				s = append(s, p.Text)
			}
			return s
		}(), "\n"))
		anns := 0
		for _, p := range d.children[1:] {
			seq(p, `^( infon)*( offset)( text)?( annotation)*$`)
			for _, a := range p.children {
				if a.name != "annotation" {
					continue
				}
				anns++
				seq(a, `^( infon)+( location)+ text$`)
				if a.children[0].attrs["key"] != "type" || a.attrs["id"] == "" {
					t.Fatalf("annotation without id or type infon: %+v", a)
				}
				loc := a.children[len(a.children)-2]
				off, ln := atoi(t, loc.attrs["offset"]), atoi(t, loc.attrs["length"])
				txt := a.children[len(a.children)-1].text
				if len(ds[di].Passages) > 0 && string(full[off:off+ln]) != txt {
					t.Fatalf("location %d+%d selects %q, annotation text %q", off, ln, string(full[off:off+ln]), txt)
				}
			}
		}
		if anns != len(ds[di].Annotations) {
			t.Fatalf("document %s: %d annotations, want %d", ds[di].ID, anns, len(ds[di].Annotations))
		}
	}
}

// TestBioCJSON checks the BioC JSON structure (the one of NCBI's BioC API
// and the bioc Python package) and that locations select the texts.
func TestBioCJSON(t *testing.T) {
	ds := docs()
	var col struct {
		Source, Date, Key string
		Documents         []struct {
			ID       string
			Passages []struct {
				Infons      map[string]string
				Offset      int
				Text        string
				Annotations []struct {
					ID        string
					Infons    map[string]string
					Text      string
					Locations []struct{ Offset, Length int }
				}
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(write(t, BioCJSON, ds)))
	dec.DisallowUnknownFields()
	if err := json.Unmarshal(write(t, BioCJSON, ds), &col); err != nil {
		t.Fatal(err)
	}
	if col.Source != Source || col.Key == "" || len(col.Documents) != 2 {
		t.Fatalf("collection header or document count wrong: %+v", col)
	}
	d := col.Documents[0]
	if len(d.Passages) != 2 || d.Passages[0].Infons["type"] != "title" || d.Passages[1].Offset != len([]rune(ds[0].Passages[0].Text))+1 {
		t.Fatalf("passages: %+v", d.Passages)
	}
	full := []rune(ds[0].Passages[0].Text + "\n" + ds[0].Passages[1].Text)
	n := 0
	for _, p := range d.Passages {
		for _, a := range p.Annotations {
			n++
			l := a.Locations[0]
			if string(full[l.Offset:l.Offset+l.Length]) != a.Text || a.Infons["type"] == "" {
				t.Fatalf("annotation %+v does not select its text", a)
			}
			if a.Text == "IL-2" && (a.Infons["identifier"] != "NCBIGene:3558" || a.Infons["abbreviation_of"] != "Interleukin 2") {
				t.Fatalf("IL-2 infons: %+v", a.Infons)
			}
		}
	}
	if n != 4 {
		t.Fatalf("%d annotations, want 4", n)
	}
}

// TestPubTatorRoundTrip reads the PubTator output with an independent reader
// (scripts/pubtator_read.js, node) and compares documents and annotations.
func TestPubTatorRoundTrip(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed (make setup installs it)")
	}
	ds := docs()
	cmd := exec.Command(node, "../../scripts/pubtator_read.js")
	cmd.Stdin = bytes.NewReader(write(t, PubTator, ds))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("independent reader: %v: %s", err, stderr.String())
	}
	type ann struct {
		Begin, End int
		Text, Type string
		ID         string
	}
	var got []struct {
		ID, Title, Abstract string
		Annotations         []ann
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var d struct {
			ID, Title, Abstract string
			Annotations         []ann
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if len(got) != len(ds) {
		t.Fatalf("reader found %d documents, want %d", len(got), len(ds))
	}
	for i, d := range ds {
		var want []ann
		for _, a := range d.Annotations {
			want = append(want, ann{a.Begin, a.End, a.Text, a.Type, a.Identifier})
		}
		if got[i].ID != d.ID || !reflect.DeepEqual(got[i].Annotations, want) {
			t.Fatalf("document %d: got %+v, want id %s annotations %+v", i, got[i], d.ID, want)
		}
		if len(d.Passages) == 2 && (got[i].Title != d.Passages[0].Text || got[i].Abstract != d.Passages[1].Text) {
			t.Fatalf("title/abstract: %q / %q", got[i].Title, got[i].Abstract)
		}
	}
}

// TestPubTatorRejectsBadID: an id PubTator cannot hold is refused naming
// it, with nothing written, and the writer goes on; line separators inside
// a text become spaces.
func TestPubTatorRejectsBadID(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, PubTator)
	for _, id := range []string{"a|b", "a\tb", "a\u0085b", "a\u2028b", "a\u2029b", "a\x00b"} {
		err := w.Write(Document{ID: id, Passages: []Passage{{Type: "title", Text: "T"}}})
		if !errors.Is(err, ErrUnrepresentable) || !strings.Contains(err.Error(), strconv.Quote(id)) {
			t.Fatalf("id %q: err = %v, want ErrUnrepresentable naming the id", id, err)
		}
	}
	if buf.Len() != 0 {
		t.Fatalf("refused documents wrote %q", buf.String())
	}
	text := "a\u2028b\u0085c\u2029d\ve\ff"
	if err := w.Write(Document{ID: "ok", Passages: []Passage{{Type: "title", Text: text}}}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "ok|t|a b c d e f\nok|a|\n\n"; got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	if _, err := Parse("brat"); err == nil {
		t.Fatal("Parse accepted brat")
	}
}
