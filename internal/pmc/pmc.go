package pmc

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/nerstream/nerstream/internal/document"
)

// Record is one document read from a file, with its position.
type Record struct {
	Doc   document.Document
	Index int64 // 0-based ordinal of the article/document in the file
	Line  int64 // line of its start tag
}

// skipJATS are the JATS elements skipped with their whole content.
var skipJATS = map[string]bool{
	"fig": true, "fig-group": true, "table-wrap": true, "table-wrap-group": true, "table": true,
	"ref-list": true, "back": true, "floats-group": true, "disp-formula": true, "inline-formula": true,
	"math": true, "supplementary-material": true, "graphic": true, "media": true, "alternatives": true,
	"object-id": true, "label": true,
}

// skipBioC are section_type / type infon values of passages that are skipped.
var skipBioC = map[string]bool{
	"ref": true, "fig": true, "fig_caption": true, "fig_title_caption": true, "table": true,
	"table_caption": true, "table_title_caption": true, "table_footnote": true, "suppl": true,
}

// Parse reads one JATS or BioC XML file (gzip or plain) and calls fn for
// every document in file order. A document without id or text is an error
// naming the file and the document's line; so is XML that cannot be parsed.
func Parse(ctx context.Context, r io.Reader, name string, fn func(Record) error) error {
	in, _, err := document.Decompress(r)
	if err != nil {
		return fmt.Errorf("pmc %s: %w", name, err)
	}
	p := &parser{dec: xml.NewDecoder(in), name: name, fn: fn, ctx: ctx}
	p.dec.Entity = xml.HTMLEntity
	p.dec.Strict = true
	return p.run()
}

type parser struct {
	dec   *xml.Decoder
	name  string
	fn    func(Record) error
	ctx   context.Context
	index int64
}

// errorf reports input that cannot be read on (document.ErrUnreadable):
// the producer records the file as failed and goes on with the next.
func (p *parser) errorf(format string, a ...any) error {
	line, _ := p.dec.InputPos()
	return document.Unreadable(fmt.Errorf("pmc %s:%d: %s", p.name, line, fmt.Sprintf(format, a...)))
}

func (p *parser) run() error {
	root := ""
	for {
		tok, err := p.dec.Token()
		if err == io.EOF {
			if root == "" {
				return document.Unreadable(fmt.Errorf("pmc %s: no <article>, <pmc-articleset> or <collection> element", p.name))
			}
			return nil
		}
		if err != nil {
			return p.errorf("%v", err)
		}
		st, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if err := p.ctx.Err(); err != nil {
			return err
		}
		if root == "" {
			root = st.Name.Local
		}
		switch st.Name.Local {
		case "article":
			if err := p.article(); err != nil {
				return err
			}
		case "document":
			if root != "collection" {
				return p.errorf("<document> outside a BioC <collection>")
			}
			if err := p.biocDocument(); err != nil {
				return err
			}
		case "pmc-articleset", "collection", "source", "date", "key", "infon":
			if st.Name.Local != root && (st.Name.Local == "pmc-articleset" || st.Name.Local == "collection") {
				return p.errorf("unexpected <%s>", st.Name.Local)
			}
			if st.Name.Local == "source" || st.Name.Local == "date" || st.Name.Local == "key" || st.Name.Local == "infon" {
				if err := p.dec.Skip(); err != nil {
					return p.errorf("%v", err)
				}
			}
		default:
			if root != "article" && root != "pmc-articleset" && root != "collection" {
				return fmt.Errorf("pmc %s: root element <%s> is neither JATS (<article>, <pmc-articleset>) nor BioC (<collection>)", p.name, root)
			}
			if err := p.dec.Skip(); err != nil {
				return p.errorf("%v", err)
			}
		}
	}
}

// builder assembles a document's content and passages.
type builder struct {
	title string
	parts []string
	types []string
}

func (b *builder) add(typ, text string) {
	text = clean(text)
	if text == "" {
		return
	}
	b.parts = append(b.parts, text)
	b.types = append(b.types, typ)
}

func (b *builder) doc(id string) document.Document {
	d := document.Document{ID: id, Title: b.title, Text: strings.Join(b.parts, "\n"), Op: document.OpUpsert}
	var ps []document.Passage
	off := 0
	if d.Title != "" {
		ps = append(ps, document.Passage{Type: "title", Offset: 0})
		off = utf8.RuneCountInString(d.Title) + 1
	}
	for i, t := range b.parts {
		ps = append(ps, document.Passage{Type: b.types[i], Offset: off})
		off += utf8.RuneCountInString(t) + 1
	}
	d.Passages = document.NewPassages(ps)
	return d
}

// clean collapses whitespace runs to one space and trims.
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

func attr(st xml.StartElement, name string) string {
	for _, a := range st.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// article reads one JATS <article> after its start tag.
func (p *parser) article() error {
	line, _ := p.dec.InputPos()
	var b builder
	var pmcid, pmid string
	type frame struct {
		name  string
		title string // for <sec>: its title once read
	}
	var stack []frame
	inside := func(n string) bool {
		for _, f := range stack {
			if f.name == n {
				return true
			}
		}
		return false
	}
	secTitle := func() string {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].name == "sec" && stack[i].title != "" {
				return stack[i].title
			}
		}
		return "paragraph"
	}
	var text strings.Builder
	collecting := "" // element whose text is being collected: p, title, article-title, article-id
	depth := 0       // nesting of collecting
	var idType string
	for {
		tok, err := p.dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return p.errorf("unexpected end of file inside <article>")
			}
			return p.errorf("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := t.Name.Local
			if skipJATS[n] {
				if err := p.dec.Skip(); err != nil {
					return p.errorf("%v", err)
				}
				continue
			}
			if collecting != "" {
				depth++
				if n == "p" || n == "list-item" || n == "break" {
					text.WriteByte(' ')
				}
				stack = append(stack, frame{name: n})
				continue
			}
			switch {
			case n == "article-id":
				collecting, idType = n, attr(t, "pub-id-type")
			case n == "article-title" && inside("title-group") && inside("article-meta") && b.title == "":
				collecting = n
			case n == "title" && (inside("sec") || inside("abstract")) && (inside("body") || inside("abstract")):
				collecting = n
			case n == "p" && (inside("body") || inside("abstract")):
				collecting = n
			case n == "sub-article" || n == "response":
				// peer reviews and sub-articles are not the article's text
				if err := p.dec.Skip(); err != nil {
					return p.errorf("%v", err)
				}
				continue
			}
			if collecting != "" {
				text.Reset()
				depth = 0
			}
			stack = append(stack, frame{name: n})
		case xml.CharData:
			if collecting != "" {
				text.Write(t)
			}
		case xml.EndElement:
			n := t.Name.Local
			if n == "article" && len(stack) == 0 {
				id := ""
				switch {
				case pmcid != "":
					id = "PMC" + strings.TrimPrefix(pmcid, "PMC")
				case pmid != "":
					id = pmid
				default:
					return p.errorf("article starting at line %d has no pmc or pmid article-id", line)
				}
				d := b.doc(id)
				if d.Text == "" && d.Title == "" {
					return p.errorf("article %s (line %d) has no title or text", id, line)
				}
				rec := Record{Doc: d, Index: p.index, Line: int64(line)}
				p.index++
				if err := p.fn(rec); err != nil {
					return fmt.Errorf("pmc %s: article %s: %w", p.name, id, err)
				}
				return nil
			}
			if len(stack) == 0 {
				return p.errorf("unbalanced </%s>", n)
			}
			stack = stack[:len(stack)-1]
			if collecting != "" && depth > 0 {
				depth--
				continue
			}
			if collecting == n {
				s := text.String()
				switch n {
				case "article-id":
					switch idType {
					case "pmc", "pmcid":
						pmcid = clean(s)
					case "pmid":
						pmid = clean(s)
					}
				case "article-title":
					b.title = clean(s)
				case "title":
					for i := len(stack) - 1; i >= 0; i-- {
						if stack[i].name == "sec" || stack[i].name == "abstract" {
							stack[i].title = clean(s)
							break
						}
					}
					b.add("section_title", s)
				case "p":
					if inside("abstract") {
						b.add("abstract", s)
					} else {
						b.add(secTitle(), s)
					}
				}
				collecting = ""
			}
		}
	}
}

// biocDocument reads one BioC <document> after its start tag.
func (p *parser) biocDocument() error {
	line, _ := p.dec.InputPos()
	var doc struct {
		ID       string `xml:"id"`
		Passages []struct {
			Infons []struct {
				Key   string `xml:"key,attr"`
				Value string `xml:",chardata"`
			} `xml:"infon"`
			Offset int    `xml:"offset"`
			Text   string `xml:"text"`
		} `xml:"passage"`
	}
	if err := p.dec.DecodeElement(&doc, &xml.StartElement{Name: xml.Name{Local: "document"}}); err != nil {
		return p.errorf("BioC document: %v", err)
	}
	id := clean(doc.ID)
	if id == "" {
		return p.errorf("BioC document at line %d has no <id>", line)
	}
	var b builder
	for _, ps := range doc.Passages {
		sec, typ := "", ""
		for _, in := range ps.Infons {
			switch in.Key {
			case "section_type":
				sec = strings.ToLower(clean(in.Value))
			case "type":
				typ = strings.ToLower(clean(in.Value))
			}
		}
		if skipBioC[sec] || skipBioC[typ] {
			continue
		}
		kind := sec
		if strings.HasPrefix(typ, "title") || typ == "front" {
			kind = "section_title"
			if b.title == "" && len(b.parts) == 0 && (sec == "title" || typ == "front") {
				b.title = clean(ps.Text)
				continue
			}
		}
		if kind == "" {
			kind = typ
		}
		if kind == "" {
			kind = "paragraph"
		}
		b.add(kind, ps.Text)
	}
	d := b.doc(id)
	if d.Text == "" && d.Title == "" {
		return p.errorf("BioC document %s (line %d) has no text", id, line)
	}
	rec := Record{Doc: d, Index: p.index, Line: int64(line)}
	p.index++
	if err := p.fn(rec); err != nil {
		return fmt.Errorf("pmc %s: document %s: %w", p.name, id, err)
	}
	return nil
}
