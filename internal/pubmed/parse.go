package pubmed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nerstream/nerstream/internal/document"
)

// Kind is the kind of PubMed element a record came from.
type Kind int

const (
	// KindArticle is a PubmedArticle (a MEDLINE/PubMed citation).
	KindArticle Kind = iota + 1
	// KindBookArticle is a PubmedBookArticle (book or chapter, e.g. GeneReviews).
	KindBookArticle
	// KindDelete is one PMID of a DeleteCitation.
	KindDelete
)

// String returns the PubMed element name of k.
func (k Kind) String() string {
	switch k {
	case KindArticle:
		return "PubmedArticle"
	case KindBookArticle:
		return "PubmedBookArticle"
	case KindDelete:
		return "DeleteCitation"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Record is one document read from a PubMed file, with its position.
type Record struct {
	// Doc is the document; Doc.Op is OpUpsert or, for KindDelete, OpDelete.
	Doc document.Document
	// Kind is the element the record came from.
	Kind Kind
	// Index is the record's 0-based ordinal in the file. Rejected records
	// use up an index too, so indexes are stable for a given file content.
	Index int64
	// Offset is the byte offset of the record's start tag (for deletes: of
	// the PMID element) in the decompressed XML.
	Offset int64
	// Line is the 1-based line of that start tag.
	Line int64
}

// Stats counts what Parse read.
type Stats struct {
	// Records is the number of records passed to the callback.
	Records int64
	// Articles, BookArticles and Deletes split Records by kind.
	Articles, BookArticles, Deletes int64
	// Rejected is the number of records written to the rejects sink (broken
	// XML regions included).
	Rejected int64
	// Resyncs is how often parsing skipped broken XML to the next record.
	Resyncs int64
	// LostBytes is the number of decompressed bytes skipped unparsed.
	LostBytes int64
	// Bytes is the number of decompressed bytes read.
	Bytes int64
	// Gzip reports whether the input was gzip-compressed.
	Gzip bool
}

// FileError reports input that Parse could not continue past: a read or
// decompression error, or broken XML with no later record to resume at.
type FileError struct {
	// File is the name given to Parse.
	File string
	// Index is the index the next record would have had.
	Index int64
	// Offset and Line locate the start of the unreadable region.
	Offset, Line int64
	// LostBytes counts decompressed bytes read but not parsed (a lower
	// bound when the input could not be read to its end).
	LostBytes int64
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *FileError) Error() string {
	return fmt.Sprintf("%s: record %d at byte %d (line %d): %v; stopped reading the file, %d bytes lost",
		e.File, e.Index, e.Offset, e.Line, e.Err, e.LostBytes)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// Is reports that a FileError is document.ErrUnreadable.
func (e *FileError) Is(target error) bool { return target == document.ErrUnreadable }

// Option configures Parse.
type Option func(*config)

type config struct {
	rejects     *document.RejectSink
	maxDocBytes int
}

// WithRejects writes rejected records and unreadable regions to w as JSON
// lines (document.Reject). Without it they are only counted and returned.
func WithRejects(w io.Writer) Option {
	return func(c *config) { c.rejects = document.NewRejectSink(w) }
}

// WithRejectSink is WithRejects with a sink shared by several Parse calls.
func WithRejectSink(s *document.RejectSink) Option {
	return func(c *config) { c.rejects = s }
}

// WithMaxDocBytes sets the largest Title+"\n"+Text accepted (default
// document.DefaultMaxDocBytes); larger records are rejected without being
// held in memory. n <= 0 keeps the default.
func WithMaxDocBytes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxDocBytes = n
		}
	}
}

// ParseFile opens path and parses it with Parse, naming it by its base name.
func ParseFile(ctx context.Context, path string, fn func(Record) error, opts ...Option) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("parse pubmed: %w", err)
	}
	defer f.Close()
	return Parse(ctx, f, filepath.Base(path), fn, opts...)
}

// Parse reads one PubMed XML file from r (gzip or plain) and calls fn for
// every record in file order. name identifies the file in errors and rejects.
//
// Bad records are rejected and skipped (see the package comment). Parse
// returns early with fn's error (wrapped with name and the record index), the
// context's error, or a *FileError when the rest of the input cannot be
// parsed; the Stats returned are valid in every case.
func Parse(ctx context.Context, r io.Reader, name string, fn func(Record) error, opts ...Option) (Stats, error) {
	cfg := config{maxDocBytes: document.DefaultMaxDocBytes}
	for _, o := range opts {
		o(&cfg)
	}
	p := &parser{ctx: ctx, name: name, fn: fn, cfg: cfg}
	in, gzipped, err := document.Decompress(r)
	p.st.Gzip = gzipped
	if err != nil {
		return p.st, p.fail(0, 1, err)
	}
	p.cr = &countingReader{r: bufio.NewReaderSize(in, 64<<10), textRun: textRun{max: maxTextRun(cfg.maxDocBytes)}}
	p.line = 1
	p.newDecoder()
	err = p.run()
	p.st.Bytes = p.cr.n
	return p.st, err
}

// countingReader counts the bytes the XML decoder consumes; the decoder
// reads byte by byte through ReadByte, so the count is exact.
type countingReader struct {
	r *bufio.Reader
	n int64
	textRun
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
		err = c.observe(b)
	}
	return b, err
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// record is the state of the record being parsed.
type record struct {
	kind         Kind
	depth        int // len(stack) with the record element pushed
	offset, line int64
	index        int64

	pmid        string
	pmidSeen    bool
	version     int
	title       strings.Builder
	bookTitle   strings.Builder
	sections    []section
	size        int
	err         error
	capture     *strings.Builder // text being collected, or nil
	captureAt   int              // len(stack) of the element being captured
	captureKind int
}

type section struct {
	label string
	text  strings.Builder
}

const (
	capNone = iota
	capPMID
	capTitle
	capBookTitle
	capSection
)

type parser struct {
	ctx  context.Context
	name string
	fn   func(Record) error
	cfg  config

	cr    *countingReader
	dec   *xml.Decoder
	base  int64 // absolute offset where dec started
	lines int64 // absolute line where dec started, minus 1
	line  int64 // absolute line at the current token start

	stack []string
	rec   *record
	index int64
	st    Stats
	done  bool // root element closed
}

func (p *parser) newDecoder() {
	p.dec = xml.NewDecoder(p.cr)
	p.dec.Strict = false
	p.dec.Entity = xml.HTMLEntity
	p.base = p.cr.n
	p.lines = p.line - 1
	p.cr.run = 0
}

// pos returns the absolute offset and line of the decoder's position.
func (p *parser) pos() (int64, int64) {
	l, _ := p.dec.InputPos()
	return p.base + p.dec.InputOffset(), p.lines + int64(l)
}

func (p *parser) run() error {
	for {
		if err := p.ctx.Err(); err != nil {
			return fmt.Errorf("parse %s: %w", p.name, err)
		}
		off, line := p.pos()
		tok, err := p.dec.RawToken()
		if err == io.EOF {
			if len(p.stack) > 0 || !p.done {
				what := "missing </PubmedArticleSet>"
				if !p.done && len(p.stack) == 0 {
					what = "no PubmedArticleSet element"
				}
				lost := int64(0)
				if p.rec != nil {
					lost = off - p.rec.offset
					off, line = p.rec.offset, p.rec.line
				}
				return p.fail(off, line, fmt.Errorf("truncated input: %s", what), lost)
			}
			return nil
		}
		if err != nil {
			if err := p.recover(off, line, err); err != nil {
				return err
			}
			continue
		}
		switch t := tok.(type) {
		case xml.StartElement:
			err = p.start(t, off, line)
		case xml.EndElement:
			err = p.end(t)
		case xml.CharData:
			if p.rec != nil && p.rec.capture != nil {
				p.rec.appendText(t, p.cfg.maxDocBytes)
			} else if len(p.stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				err = &structError{"text outside the root element"}
			}
		}
		if err != nil {
			var se *xml.SyntaxError
			var ste *structError
			if !errors.As(err, &se) && !errors.As(err, &ste) {
				return err // callback, sink or file error
			}
			if err := p.recover(off, line, err); err != nil {
				return err
			}
		}
	}
}

// start handles a start tag at (off, line).
func (p *parser) start(t xml.StartElement, off, line int64) error {
	name := t.Name.Local
	if t.Name.Space != "" {
		name = t.Name.Space + ":" + name
	}
	p.stack = append(p.stack, name)
	depth := len(p.stack)
	if depth > 2 && recordKind(name) != 0 {
		// A record starts inside another one: the open record lost its end
		// tags. Reject it and carry on with the new record.
		if err := p.abandon(off, line, name); err != nil {
			return err
		}
		p.stack = append(p.stack[:0], "PubmedArticleSet", name)
		depth = 2
	}
	switch {
	case depth == 1:
		if p.done {
			return &structError{"second root element <" + name + ">"}
		}
		if name != "PubmedArticleSet" {
			return p.fail(off, line, fmt.Errorf("not a PubMed file: root element is <%s>, want <PubmedArticleSet>", name), 0)
		}
	case depth == 2:
		if kind := recordKind(name); kind != 0 {
			p.rec = &record{kind: kind, depth: depth, offset: off, line: line, index: p.index}
			if kind != KindDelete {
				p.index++
			}
		}
	case p.rec != nil && p.rec.capture == nil:
		p.rec.startChild(p.stack[p.rec.depth:], t, off, line, p)
	}
	return nil
}

func recordKind(name string) Kind {
	switch name {
	case "PubmedArticle":
		return KindArticle
	case "PubmedBookArticle":
		return KindBookArticle
	case "DeleteCitation":
		return KindDelete
	}
	return 0
}

// abandon rejects the open record (or the unclosed elements around a
// record start tag at (off, line)) whose end tags are missing.
func (p *parser) abandon(off, line int64, next string) error {
	from, fromLine, index, id := off, line, p.index, ""
	if r := p.rec; r != nil {
		from, fromLine, index, id = r.offset, r.line, r.index, r.pmid
	}
	lost := off - from
	p.rec = nil
	p.st.Rejected++
	p.st.Resyncs++
	p.st.LostBytes += lost
	return p.cfg.rejects.Write(document.Reject{File: p.name, Index: index, Offset: from, Line: fromLine, ID: id,
		Error: fmt.Sprintf("broken XML (record not closed before <%s> at line %d)", next, line), LostBytes: lost})
}

// startChild starts capturing text when rel (the path below the record
// element) names one of the elements a document is built from.
func (r *record) startChild(rel []string, t xml.StartElement, off, line int64, p *parser) {
	kind := capNone
	switch r.kind {
	case KindArticle:
		switch {
		case match(rel, "MedlineCitation", "PMID"):
			kind = capPMID
		case match(rel, "MedlineCitation", "Article", "ArticleTitle"):
			kind = capTitle
		case match(rel, "MedlineCitation", "Article", "Abstract", "AbstractText"):
			kind = capSection
		}
	case KindBookArticle:
		switch {
		case match(rel, "BookDocument", "PMID"):
			kind = capPMID
		case match(rel, "BookDocument", "ArticleTitle"):
			kind = capTitle
		case match(rel, "BookDocument", "Book", "BookTitle"):
			kind = capBookTitle
		case match(rel, "BookDocument", "Abstract", "AbstractText"):
			kind = capSection
		}
	case KindDelete:
		if match(rel, "PMID") {
			// Each PMID of a DeleteCitation is its own record.
			r.pmid, r.pmidSeen, r.version, r.err = "", false, 0, nil
			r.offset, r.line, r.index = off, line, p.index
			p.index++
			kind = capPMID
		}
	}
	var b *strings.Builder
	switch kind {
	case capNone:
		return
	case capPMID:
		if r.pmidSeen {
			return // a second PMID (not expected) is ignored
		}
		r.pmidSeen = true
		var pmid strings.Builder
		b = &pmid
		if v, ok := attr(t, "Version"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				r.fail(fmt.Errorf("PMID Version attribute %q is not a non-negative integer", v))
			}
			r.version = n
		}
	case capTitle:
		b = &r.title
	case capBookTitle:
		b = &r.bookTitle
	case capSection:
		label, _ := attr(t, "Label")
		r.sections = append(r.sections, section{label: strings.TrimSpace(label)})
		b = &r.sections[len(r.sections)-1].text
	}
	r.capture, r.captureAt, r.captureKind = b, len(p.stack), kind
}

func match(rel []string, path ...string) bool {
	if len(rel) != len(path) {
		return false
	}
	for i := range path {
		if rel[i] != path[i] {
			return false
		}
	}
	return true
}

func attr(t xml.StartElement, name string) (string, bool) {
	for _, a := range t.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

func (r *record) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// appendText adds character data to the capture, bounded by max bytes in
// total for the record.
func (r *record) appendText(data []byte, max int) {
	if r.err != nil && r.captureKind != capPMID {
		return
	}
	r.size += len(data)
	if r.captureKind != capPMID && r.size > max {
		r.fail(fmt.Errorf("title and abstract exceed %d bytes", max))
		return
	}
	if r.captureKind == capPMID && r.capture.Len()+len(data) > 64 {
		r.fail(errors.New("PMID longer than 64 bytes"))
		r.capture.Reset()
		r.captureKind = capNone
		return
	}
	r.capture.Write(data)
}

// end handles an end tag.
func (p *parser) end(t xml.EndElement) error {
	name := t.Name.Local
	if t.Name.Space != "" {
		name = t.Name.Space + ":" + name
	}
	if len(p.stack) == 0 {
		return &structError{"unexpected end element </" + name + ">"}
	}
	if top := p.stack[len(p.stack)-1]; top != name {
		return &structError{"element <" + top + "> closed by </" + name + ">"}
	}
	depth := len(p.stack)
	p.stack = p.stack[:depth-1]
	if depth == 1 {
		p.done = true
		return nil
	}
	r := p.rec
	if r == nil {
		return nil
	}
	if r.capture != nil && depth == r.captureAt {
		if r.captureKind == capPMID {
			r.pmid = strings.TrimSpace(r.capture.String())
		}
		r.capture = nil
		if r.kind == KindDelete {
			return p.emit(r)
		}
	}
	if depth == r.depth {
		p.rec = nil
		if r.kind != KindDelete {
			return p.emit(r)
		}
	}
	return nil
}

// emit validates the record and hands it to the callback or the rejects.
func (p *parser) emit(r *record) error {
	doc := document.Document{ID: r.pmid, Version: r.version, Op: document.OpUpsert}
	err := r.err
	if err == nil {
		err = checkPMID(r.pmid, r.pmidSeen)
	}
	switch r.kind {
	case KindDelete:
		doc.Op = document.OpDelete
	case KindBookArticle:
		doc.Title = clean(r.title.String())
		if doc.Title == "" {
			doc.Title = clean(r.bookTitle.String())
		}
		doc.Text = joinSections(r.sections)
	default:
		doc.Title = clean(r.title.String())
		doc.Text = joinSections(r.sections)
	}
	if err == nil {
		err = document.Validate(doc, document.Limits{MaxDocBytes: p.cfg.maxDocBytes})
	}
	if err != nil {
		p.st.Rejected++
		return p.cfg.rejects.Write(document.Reject{File: p.name, Index: r.index, Offset: r.offset, Line: r.line,
			ID: r.pmid, Error: r.kind.String() + ": " + err.Error()})
	}
	switch r.kind {
	case KindArticle:
		p.st.Articles++
	case KindBookArticle:
		p.st.BookArticles++
	case KindDelete:
		p.st.Deletes++
	}
	p.st.Records++
	if err := p.fn(Record{Doc: doc, Kind: r.kind, Index: r.index, Offset: r.offset, Line: r.line}); err != nil {
		return fmt.Errorf("%s: record %d (PMID %s): %w", p.name, r.index, r.pmid, err)
	}
	return nil
}

func checkPMID(pmid string, seen bool) error {
	if !seen || pmid == "" {
		return errors.New("missing PMID")
	}
	for i := 0; i < len(pmid); i++ {
		if pmid[i] < '0' || pmid[i] > '9' {
			return fmt.Errorf("PMID %q is not a number", pmid)
		}
	}
	return nil
}

// clean turns newlines and tabs into spaces and trims the ends.
func clean(s string) string {
	if strings.ContainsAny(s, "\n\r\t") {
		s = strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == '\t' {
				return ' '
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// joinSections renders the abstract: sections joined by "\n", a labelled
// one as "LABEL:\n" + text. Empty sections are dropped.
func joinSections(secs []section) string {
	var b strings.Builder
	for i := range secs {
		text := clean(secs[i].text.String())
		if text == "" && secs[i].label == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		if secs[i].label != "" {
			b.WriteString(secs[i].label)
			b.WriteString(":\n")
		}
		b.WriteString(text)
	}
	return strings.TrimSpace(b.String())
}

// structError is an XML nesting error found by the parser itself (RawToken
// does not match start and end tags).
type structError struct{ msg string }

func (e *structError) Error() string { return "xml: " + e.msg }

// recover handles a syntax error found at (off, line): it rejects the
// broken record, skips to the next record start tag and starts a new
// decoder there. It returns a *FileError when no record follows or the input
// cannot be read, or the rejects sink's error.
func (p *parser) recover(off, line int64, cause error) error {
	var se *xml.SyntaxError
	var ste *structError
	msg := ""
	switch {
	case errors.Is(cause, errTextTooLong):
		msg = fmt.Sprintf("%v (record starting before line %d)", cause, line)
	case errors.As(cause, &ste):
		msg = fmt.Sprintf("broken XML (%s at line %d)", ste.msg, line)
	case errors.As(cause, &se):
		msg = fmt.Sprintf("broken XML (%s at line %d)", se.Msg, p.lines+int64(se.Line))
	default:
		// A read or decompression error: nothing can follow.
		lostFrom, lostLine := off, line
		if p.rec != nil {
			lostFrom, lostLine = p.rec.offset, p.rec.line
		}
		return p.fail(lostFrom, lostLine, cause, p.cr.n-lostFrom)
	}
	from, fromLine, index, id := off, line, p.index, ""
	if p.rec != nil {
		from, fromLine, id = p.rec.offset, p.rec.line, p.rec.pmid
		index = p.rec.index
	}
	// Give the decoder's one byte of look-ahead back to the reader.
	cur, curLine := p.pos()
	if cur < p.cr.n {
		if p.cr.r.UnreadByte() == nil {
			p.cr.n--
		}
	}
	p.line = curLine
	found, serr := p.skipToRecord()
	lost := p.cr.n - from
	if serr != nil || !found {
		cause := errors.New(msg + ": no later record to resume at")
		if serr != nil {
			cause = fmt.Errorf("%s; then: %w", msg, serr)
		}
		return p.fail(from, fromLine, cause, lost)
	}
	p.st.Rejected++
	p.st.Resyncs++
	p.st.LostBytes += lost
	if err := p.cfg.rejects.Write(document.Reject{File: p.name, Index: index, Offset: from, Line: fromLine, ID: id,
		Error: msg + fmt.Sprintf("; skipped to the next record at byte %d", p.cr.n), LostBytes: lost}); err != nil {
		return err
	}
	p.rec = nil
	p.stack = append(p.stack[:0], "PubmedArticleSet")
	p.done = false
	p.newDecoder()
	return nil
}

var recordTags = [][]byte{[]byte("<PubmedArticle"), []byte("<PubmedBookArticle"), []byte("<DeleteCitation")}

// skipToRecord advances the reader to the next record start tag, counting
// lines; it reports whether one was found.
func (p *parser) skipToRecord() (bool, error) {
	r := p.cr.r
	for {
		buf, err := r.Peek(4096)
		i := bytes.IndexByte(buf, '<')
		if i < 0 {
			p.discard(len(buf))
			if err == io.EOF {
				return false, nil
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return false, err
			}
			continue
		}
		p.discard(i)
		head, err := r.Peek(20)
		for _, tag := range recordTags {
			if bytes.HasPrefix(head, tag) && len(head) > len(tag) {
				if c := head[len(tag)]; c == '>' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' {
					return true, nil
				}
			}
		}
		if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			return false, err
		}
		p.discard(1)
	}
}

func (p *parser) discard(n int) {
	buf, _ := p.cr.r.Peek(n)
	p.line += int64(bytes.Count(buf, []byte{'\n'}))
	d, _ := p.cr.r.Discard(n)
	p.cr.n += int64(d)
}

// fail reports an unrecoverable problem: it writes a reject and returns the
// *FileError (or the sink's error).
func (p *parser) fail(off, line int64, cause error, lost ...int64) error {
	fe := &FileError{File: p.name, Index: p.index, Offset: off, Line: line, Err: cause}
	if len(lost) > 0 && lost[0] > 0 {
		fe.LostBytes = lost[0]
	}
	if p.rec != nil {
		fe.Index = p.rec.index
	}
	p.st.Rejected++
	p.st.LostBytes += fe.LostBytes
	if err := p.cfg.rejects.Write(document.Reject{File: p.name, Index: fe.Index, Offset: off, Line: line,
		Error: cause.Error() + "; stopped reading the file", LostBytes: fe.LostBytes}); err != nil {
		return errors.Join(fe, err)
	}
	return fe
}
