package document

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SchemaVersion is the version of the batch message this package writes and
// the only one DecodeBatch accepts.
const SchemaVersion = 1

// MaxIDBytes bounds the length of a document id.
const MaxIDBytes = 256

// Op says what a document asks the pipeline to do.
type Op string

const (
	// OpUpsert annotates the document (new or revised). It is the default when
	// the op field is empty or absent.
	OpUpsert Op = "upsert"
	// OpDelete withdraws the document (PubMed DeleteCitation); it carries no text.
	OpDelete Op = "delete"
)

// Valid reports whether o is one of the known ops or empty (meaning upsert).
func (o Op) Valid() bool { return o == "" || o == OpUpsert || o == OpDelete }

// Document is one text to annotate, identified by a stable id (the PMID for
// PubMed input).
type Document struct {
	// ID identifies the document; for PubMed it is the PMID.
	ID string `json:"id"`
	// Title is the article title, if the source separates it from the body.
	Title string `json:"title,omitempty"`
	// Text is the body (for PubMed: the abstract).
	Text string `json:"text"`
	// Version is the source's revision number of the document (PubMed's PMID
	// Version attribute); 0 when unknown.
	Version int `json:"version,omitempty"`
	// Op is what to do with the document; empty means OpUpsert.
	Op Op `json:"op,omitempty"`
	// Passages, when the source has them (PMC full text), are the parts of
	// Content() in order: each starts at Offset (code points) and runs to
	// the next one. Absent for PubMed: title and abstract are implied.
	// (A comparable value, so Documents stay comparable with ==.)
	Passages Passages `json:"passages,omitzero"`
}

// Passage is a part of a document's content: a section title, a paragraph.
type Passage struct {
	// Type is "title", "abstract", a section title, or "paragraph".
	Type string `json:"type"`
	// Offset is the passage's start in Content(), in code points.
	Offset int `json:"offset"`
}

// Content returns the text that is annotated and that all output offsets
// refer to: Title + "\n" + Text when both are non-empty, otherwise whichever
// of the two is non-empty.
func (d Document) Content() string {
	switch {
	case d.Title == "":
		return d.Text
	case d.Text == "":
		return d.Title
	default:
		return d.Title + "\n" + d.Text
	}
}

// ContentBytes is the length in bytes of d.Content(), computed without
// building the string.
func (d Document) ContentBytes() int {
	if d.Title != "" && d.Text != "" {
		return len(d.Title) + 1 + len(d.Text)
	}
	return len(d.Title) + len(d.Text)
}

// ErrInvalid is the sentinel wrapped by every document validation error.
var ErrInvalid = errors.New("invalid document")

// FieldError is a validation failure of one field of one document.
type FieldError struct {
	// Field is the JSON name of the offending field ("id", "text", ...).
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// breaksLines reports whether r may not appear in a document id: a control
// character (C0, DEL, C1 — U+0085 NEL among them) or U+2028/U+2029. Line
// readers (PubTator, JSON lines, logs, Python's splitlines) would split an
// id there.
func breaksLines(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }

// Validate checks d against the message rules and lim: a non-empty id of at
// most MaxIDBytes valid UTF-8 without control or line-separator characters
// (breaksLines; '|' is allowed, PubTator export skips such ids), a known op, a
// non-negative version, no text on a delete, and Content() no longer than
// lim.MaxDocBytes (when positive). The error is a *FieldError.
func Validate(d Document, lim Limits) error {
	switch {
	case strings.TrimSpace(d.ID) == "":
		return &FieldError{"id", "empty"}
	case len(d.ID) > MaxIDBytes:
		return &FieldError{"id", fmt.Sprintf("%d bytes exceeds %d", len(d.ID), MaxIDBytes)}
	case !utf8.ValidString(d.ID):
		return &FieldError{"id", "not valid UTF-8"}
	case strings.ContainsFunc(d.ID, breaksLines):
		r, _ := utf8.DecodeRuneInString(d.ID[strings.IndexFunc(d.ID, breaksLines):])
		return &FieldError{"id", fmt.Sprintf("contains the control or line-separator character %U", r)}
	case !d.Op.Valid():
		return &FieldError{"op", fmt.Sprintf("unknown op %q (want %q or %q)", d.Op, OpUpsert, OpDelete)}
	case d.Version < 0:
		return &FieldError{"version", fmt.Sprintf("negative (%d)", d.Version)}
	case d.Op == OpDelete && (d.Text != "" || d.Title != ""):
		return &FieldError{"text", "a delete carries no title or text"}
	case lim.MaxDocBytes > 0 && d.ContentBytes() > lim.MaxDocBytes:
		return &FieldError{"text", fmt.Sprintf("title+text is %d bytes, over the limit of %d", d.ContentBytes(), lim.MaxDocBytes)}
	}
	return validatePassages(d)
}

// validatePassages checks that passages have a type and strictly increasing
// offsets inside the content.
func validatePassages(d Document) error {
	if d.Passages.Len() == 0 {
		return nil
	}
	n := utf8.RuneCountInString(d.Title) + utf8.RuneCountInString(d.Text)
	if d.Title != "" && d.Text != "" {
		n++
	}
	prev := -1
	for i, p := range d.Passages.List() {
		switch {
		case strings.TrimSpace(p.Type) == "" || !utf8.ValidString(p.Type):
			return &FieldError{"passages", fmt.Sprintf("passage %d has no type", i)}
		case p.Offset <= prev || p.Offset >= max(n, 1):
			return &FieldError{"passages", fmt.Sprintf("passage %d offset %d is not increasing inside the %d code points of the content", i, p.Offset, n)}
		}
		prev = p.Offset
	}
	return nil
}
