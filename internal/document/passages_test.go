package document

import (
	"errors"
	"strings"
	"testing"
)

// TestPassagesRoundTrip: passages survive the batch codec, documents stay
// comparable, and bad passages reject only their document.
func TestPassagesRoundTrip(t *testing.T) {
	ps := NewPassages([]Passage{{Type: "title", Offset: 0}, {Type: "Introduction", Offset: 6}})
	good := Document{ID: "PMC1", Title: "Title", Text: "Intro text", Op: OpUpsert, Passages: ps}
	bad := Document{ID: "PMC2", Title: "T", Text: "x", Passages: NewPassages([]Passage{{Type: "title"}, {Type: "p", Offset: 99}})}
	data, err := EncodeBatch(&Batch{ID: "b", Source: Source{File: "f.xml", First: 0, Last: 1}, Documents: []Document{good}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"passages":[{"type":"title","offset":0},{"type":"Introduction","offset":6}]`) {
		t.Fatalf("encoded %s", data)
	}
	b, err := DecodeBatch(data, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if b.Documents[0] != good {
		t.Fatalf("decoded %+v, want %+v", b.Documents[0], good)
	}
	raw := strings.Replace(string(data), `"documents":[`, `"documents":[{"id":"PMC2","title":"T","text":"x","passages":[{"type":"title","offset":0},{"type":"p","offset":99}]},`, 1)
	b, err = DecodeBatch([]byte(raw), DefaultLimits())
	var inv *InvalidDocsError
	if !errors.As(err, &inv) || len(b.Documents) != 1 || b.Documents[0].ID != "PMC1" {
		t.Fatalf("bad passages: err %v, docs %+v", err, b)
	}
	if err := Validate(bad, DefaultLimits()); err == nil || !strings.Contains(err.Error(), "passage 1") {
		t.Fatalf("Validate = %v", err)
	}
	if NewPassages(nil).Len() != 0 || !(Passages{}).IsZero() || ps.Len() != 2 {
		t.Fatal("Len/IsZero wrong")
	}
}
