package eval

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Sentence is a pre-tokenized sentence with gold IOB2 tags.
type Sentence struct {
	Doc    string
	Tokens []string
	Tags   []string
}

// ReadIOB reads token<TAB>tag lines with blank lines between sentences and
// optional "###MEDLINE:id" document headers.
func ReadIOB(path string) ([]Sentence, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	var (
		out []Sentence
		cur Sentence
		doc string
	)
	flush := func() {
		if len(cur.Tokens) > 0 {
			cur.Doc = doc
			out = append(out, cur)
		}
		cur = Sentence{}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(t, "###"):
			flush()
			doc = strings.TrimPrefix(strings.TrimPrefix(t, "###"), "MEDLINE:")
		case strings.TrimSpace(t) == "":
			flush()
		default:
			tok, tag, ok := strings.Cut(t, "\t")
			if !ok || tok == "" {
				return nil, fmt.Errorf("eval: %s:%d: want token<TAB>tag, got %q", path, line, t)
			}
			if tag != "O" && !strings.HasPrefix(tag, "B-") && !strings.HasPrefix(tag, "I-") {
				return nil, fmt.Errorf("eval: %s:%d: tag %q is not IOB2", path, line, tag)
			}
			cur.Tokens = append(cur.Tokens, tok)
			cur.Tags = append(cur.Tags, tag)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: read %s: %w", path, err)
	}
	return out, nil
}

// Text joins the tokens with single spaces and returns the code-point span of
// each token.
func (s Sentence) Text() (string, []Span) {
	var b strings.Builder
	spans := make([]Span, len(s.Tokens))
	pos := 0
	for i, t := range s.Tokens {
		if i > 0 {
			b.WriteByte(' ')
			pos++
		}
		n := len([]rune(t))
		spans[i] = Span{Begin: pos, End: pos + n}
		b.WriteString(t)
		pos += n
	}
	return b.String(), spans
}

// TagsFromChunks converts predicted chunks over a sentence's Text into IOB2
// tags of its tokens: a token is B-X when a chunk of type X starts inside it
// and I-X when it lies inside a chunk that started earlier.
func TagsFromChunks(tokens []Span, chunks []Span) []string {
	tags := make([]string, len(tokens))
	for i := range tags {
		tags[i] = "O"
	}
	for _, c := range chunks {
		started := false
		for i, t := range tokens {
			if t.End <= c.Begin || t.Begin >= c.End {
				continue
			}
			if !started {
				tags[i] = "B-" + c.Label
				started = true
			} else if tags[i] == "O" {
				tags[i] = "I-" + c.Label
			}
		}
	}
	return tags
}

// ChunksFromTags extracts chunks (over token indexes, End exclusive) with
// conlleval's rules: a chunk starts at B-X, at I-X after O or after a chunk
// of another type, and ends before O, B-, or a type change.
func ChunksFromTags(tags []string) []Span {
	var out []Span
	open := -1
	typ := ""
	closeAt := func(i int) {
		if open >= 0 {
			out = append(out, Span{Begin: open, End: i, Label: typ})
			open = -1
		}
	}
	for i, t := range tags {
		switch {
		case t == "O":
			closeAt(i)
		case strings.HasPrefix(t, "B-"):
			closeAt(i)
			open, typ = i, t[2:]
		case strings.HasPrefix(t, "I-"):
			if open < 0 || typ != t[2:] {
				closeAt(i)
				open, typ = i, t[2:]
			}
		}
	}
	closeAt(len(tags))
	return out
}

// Document is the consecutive sentences of one "###" document of an IOB file
// joined into one text, a line break between sentences: nerstream's segmenter
// always ends a sentence at a line break, so the gold sentence boundaries are
// kept while document-level steps (abbreviation definitions, record packing)
// see the whole abstract, as worker run does.
type Document struct {
	ID        string
	Text      string
	Sentences []Sentence
	Tokens    [][]Span // Tokens[i]: code-point spans in Text of Sentences[i]'s tokens
}

// Documents groups sentences into documents by their Doc header. Sentences
// without a header (a file with no "###" lines) stay one document each.
func Documents(sents []Sentence) []Document {
	var out []Document
	for i, s := range sents {
		if i == 0 || s.Doc == "" || s.Doc != sents[i-1].Doc {
			id := s.Doc
			if id == "" {
				id = fmt.Sprintf("sentence-%d", i+1)
			}
			out = append(out, Document{ID: id})
		}
		d := &out[len(out)-1]
		base := 0
		if n := len(d.Tokens); n > 0 {
			prev := d.Tokens[n-1]
			base = prev[len(prev)-1].End + 1 // after the line break
			d.Text += "\n"
		}
		text, spans := s.Text()
		for j := range spans {
			spans[j].Begin += base
			spans[j].End += base
		}
		d.Text += text
		d.Sentences = append(d.Sentences, s)
		d.Tokens = append(d.Tokens, spans)
	}
	return out
}
