package formats

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
)

// BioC XML elements (BioC.dtd).
type xInfon struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}
type xLocation struct {
	Offset int `xml:"offset,attr"`
	Length int `xml:"length,attr"`
}
type xAnnotation struct {
	ID       string    `xml:"id,attr"`
	Infons   []xInfon  `xml:"infon"`
	Location xLocation `xml:"location"`
	Text     string    `xml:"text"`
}
type xPassage struct {
	Infons      []xInfon      `xml:"infon"`
	Offset      int           `xml:"offset"`
	Text        *string       `xml:"text,omitempty"`
	Annotations []xAnnotation `xml:"annotation"`
}
type xDocument struct {
	XMLName  xml.Name   `xml:"document"`
	ID       string     `xml:"id"`
	Infons   []xInfon   `xml:"infon"`
	Passages []xPassage `xml:"passage"`
}

func annInfons(a Annotation) [][2]string {
	inf := [][2]string{{"type", a.Type}}
	if a.Identifier != "" {
		inf = append(inf, [2]string{"identifier", a.Identifier})
	}
	return append(inf, a.Infons...)
}

func toX(inf [][2]string) []xInfon {
	out := make([]xInfon, len(inf))
	for i, kv := range inf {
		out[i] = xInfon{kv[0], kv[1]}
	}
	return out
}

type biocXML struct {
	w    *bufio.Writer
	enc  *xml.Encoder
	date string
	n    int
}

func newBioCXML(w io.Writer, date string) *biocXML {
	return &biocXML{w: bufio.NewWriter(w), date: date}
}

func (b *biocXML) start() {
	if b.n > 0 {
		return
	}
	fmt.Fprintf(b.w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE collection SYSTEM \"BioC.dtd\">\n<collection>")
	b.enc = xml.NewEncoder(b.w)
	b.enc.Encode(struct {
		XMLName xml.Name `xml:"source"`
		V       string   `xml:",chardata"`
	}{V: Source})
	b.enc.Encode(struct {
		XMLName xml.Name `xml:"date"`
		V       string   `xml:",chardata"`
	}{V: b.date})
	b.enc.Encode(struct {
		XMLName xml.Name `xml:"key"`
		V       string   `xml:",chardata"`
	}{V: Key})
	b.n = 1
}

func (b *biocXML) Write(d Document) error {
	b.start()
	xd := xDocument{ID: d.ID, Infons: toX(d.Infons)}
	groups := byPassage(d)
	n := 0
	for i, p := range passages(d) {
		xp := xPassage{Infons: []xInfon{{"type", p.Type}}, Offset: p.Offset}
		if p.Text != "" {
			t := p.Text
			xp.Text = &t
		}
		for _, a := range groups[i] {
			xp.Annotations = append(xp.Annotations, xAnnotation{ID: "T" + strconv.Itoa(n), Infons: toX(annInfons(a)),
				Location: xLocation{a.Begin, a.End - a.Begin}, Text: a.Text})
			n++
		}
		xd.Passages = append(xd.Passages, xp)
	}
	if err := b.enc.Encode(xd); err != nil {
		return fmt.Errorf("bioc xml: document %s: %w", d.ID, err)
	}
	return b.w.Flush()
}

func (b *biocXML) Close() error {
	b.start()
	if err := b.enc.Flush(); err != nil {
		return err
	}
	b.w.WriteString("</collection>\n")
	return b.w.Flush()
}

// BioC JSON (the structure of NCBI's BioC-JSON and the bioc Python package).
type jLocation struct {
	Offset int `json:"offset"`
	Length int `json:"length"`
}
type jAnnotation struct {
	ID        string            `json:"id"`
	Infons    map[string]string `json:"infons"`
	Text      string            `json:"text"`
	Locations []jLocation       `json:"locations"`
}
type jPassage struct {
	Infons      map[string]string `json:"infons"`
	Offset      int               `json:"offset"`
	Text        string            `json:"text,omitempty"`
	Sentences   []struct{}        `json:"sentences"`
	Annotations []jAnnotation     `json:"annotations"`
	Relations   []struct{}        `json:"relations"`
}
type jDocument struct {
	ID          string            `json:"id"`
	Infons      map[string]string `json:"infons"`
	Passages    []jPassage        `json:"passages"`
	Annotations []struct{}        `json:"annotations"`
	Relations   []struct{}        `json:"relations"`
}

func toMap(inf [][2]string) map[string]string {
	m := make(map[string]string, len(inf))
	for _, kv := range inf {
		m[kv[0]] = kv[1]
	}
	return m
}

type biocJSON struct {
	w    *bufio.Writer
	date string
	n    int
}

func newBioCJSON(w io.Writer, date string) *biocJSON {
	return &biocJSON{w: bufio.NewWriter(w), date: date}
}

func (b *biocJSON) start() {
	if b.n > 0 {
		return
	}
	head, _ := json.Marshal(map[string]any{"source": Source, "date": b.date, "key": Key, "infons": map[string]string{}})
	b.w.Write(head[:len(head)-1]) // without the closing brace
	b.w.WriteString(`,"documents":[`)
	b.n = 1
}

func (b *biocJSON) Write(d Document) error {
	b.start()
	jd := jDocument{ID: d.ID, Infons: toMap(d.Infons), Annotations: []struct{}{}, Relations: []struct{}{}}
	groups := byPassage(d)
	n := 0
	for i, p := range passages(d) {
		jp := jPassage{Infons: map[string]string{"type": p.Type}, Offset: p.Offset, Text: p.Text,
			Sentences: []struct{}{}, Annotations: []jAnnotation{}, Relations: []struct{}{}}
		for _, a := range groups[i] {
			jp.Annotations = append(jp.Annotations, jAnnotation{ID: "T" + strconv.Itoa(n), Infons: toMap(annInfons(a)), Text: a.Text,
				Locations: []jLocation{{a.Begin, a.End - a.Begin}}})
			n++
		}
		jd.Passages = append(jd.Passages, jp)
	}
	data, err := json.Marshal(jd)
	if err != nil {
		return fmt.Errorf("bioc json: document %s: %w", d.ID, err)
	}
	if b.n > 1 {
		b.w.WriteByte(',')
	}
	b.n++
	b.w.Write(data)
	return b.w.Flush()
}

func (b *biocJSON) Close() error {
	b.start()
	b.w.WriteString("]}\n")
	return b.w.Flush()
}
