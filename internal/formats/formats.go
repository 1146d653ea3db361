package formats

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Format names an output format.
type Format string

// The formats of [NewWriter].
const (
	PubTator Format = "pubtator"
	BioCJSON Format = "bioc-json"
	BioCXML  Format = "bioc-xml"
)

// Names lists the format names, for flag help and errors.
var Names = []Format{PubTator, BioCJSON, BioCXML}

// Parse parses a format name.
func Parse(s string) (Format, error) {
	for _, f := range Names {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("format %q: want %s, %s or %s", s, PubTator, BioCJSON, BioCXML)
}

// Passage is a part of a document. Offset is its start in the document
// (code points). Text is empty when the source text is not available
// (export from Parquet): BioC then omits <text>, PubTator its t/a line.
type Passage struct {
	Type   string // "title", "abstract", or a section title
	Offset int
	Text   string
}

// Annotation is one entity mention; Begin/End are document code-point offsets.
type Annotation struct {
	Begin, End int
	Text       string
	Type       string
	Identifier string      // e.g. "NCBIGene:3558"; empty when not linked
	Infons     [][2]string // further key/value pairs (confidence, abbreviation_of…)
}

// Document is one annotated document.
type Document struct {
	ID          string
	Infons      [][2]string
	Passages    []Passage
	Annotations []Annotation
}

// Writer writes documents one at a time; Close writes what the format needs
// at the end (it does not close the underlying writer).
type Writer interface {
	Write(d Document) error
	Close() error
}

// Source and key written into BioC collections.
const (
	Source = "nerstream"
	Key    = "nerstream.key: offsets are Unicode code points into the document text (passages joined by one character)"
)

// NewWriter returns a streaming writer of format f on w.
func NewWriter(w io.Writer, f Format) (Writer, error) {
	date := time.Now().UTC().Format("20060102")
	switch f {
	case PubTator:
		return &pubtator{w: w}, nil
	case BioCJSON:
		return newBioCJSON(w, date), nil
	case BioCXML:
		return newBioCXML(w, date), nil
	}
	return nil, fmt.Errorf("format %q: want %s, %s or %s", f, PubTator, BioCJSON, BioCXML)
}

// byPassage assigns each annotation to the last passage starting at or
// before it (the first passage when none does), in document order.
func byPassage(d Document) [][]Annotation {
	out := make([][]Annotation, max(len(d.Passages), 1))
	anns := append([]Annotation(nil), d.Annotations...)
	sort.SliceStable(anns, func(i, j int) bool { return anns[i].Begin < anns[j].Begin })
	for _, a := range anns {
		k := 0
		for i, p := range d.Passages {
			if p.Offset <= a.Begin {
				k = i
			}
		}
		out[k] = append(out[k], a)
	}
	return out
}

// passages returns d's passages, or one empty passage at offset 0.
func passages(d Document) []Passage {
	if len(d.Passages) == 0 {
		return []Passage{{Type: "document"}}
	}
	return d.Passages
}

// SplitTitle gives the passages of a text that is title + "\n" + abstract
// (the layout of PubMed documents): a title and an abstract passage, or one
// abstract passage when there is no newline.
func SplitTitle(text string) []Passage {
	i := strings.IndexByte(text, '\n')
	if i < 0 {
		return []Passage{{Type: "abstract", Text: text}}
	}
	title := text[:i]
	return []Passage{{Type: "title", Text: title}, {Type: "abstract", Offset: len([]rune(title)) + 1, Text: text[i+1:]}}
}
