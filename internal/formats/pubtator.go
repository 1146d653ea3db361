package formats

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// pubtator writes the PubTator format: per document a title line
// "ID|t|text", an abstract line "ID|a|text" (full-text passages after the
// first go into the abstract line at their offsets, gaps filled with
// spaces, so offsets stay valid), then one line per annotation
// "ID<TAB>begin<TAB>end<TAB>text<TAB>type<TAB>identifier", then an empty line.
// Tabs and line breaks inside texts (also U+0085, U+2028, U+2029, which
// some line readers split on) become spaces (same length in code points).
// A document whose id holds '|' or a control or line-separator character
// cannot be written: Write refuses it, before writing anything, with an
// error wrapping ErrUnrepresentable.
type pubtator struct{ w io.Writer }

// ErrUnrepresentable is wrapped by a Writer's error for a document the
// format cannot represent; nothing of it was written, and the writer can
// go on with the next document.
var ErrUnrepresentable = errors.New("not representable in this format")

var flat = strings.NewReplacer("\n", " ", "\r", " ", "\t", " ", "\v", " ", "\f", " ",
	"\x1c", " ", "\x1d", " ", "\x1e", " ", "\u0085", " ", "\u2028", " ", "\u2029", " ")

// pubtatorID reports whether id can head a PubTator line.
func pubtatorID(id string) bool {
	return !strings.ContainsFunc(id, func(r rune) bool { return r == '|' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' })
}

func (p *pubtator) Write(d Document) error {
	if !pubtatorID(d.ID) {
		return fmt.Errorf("pubtator: document id %q contains '|' or a control or line-separator character: %w", d.ID, ErrUnrepresentable)
	}
	bw := bufio.NewWriter(p.w)
	if len(d.Passages) > 0 && d.Passages[0].Text != "" {
		fmt.Fprintf(bw, "%s|t|%s\n", d.ID, flat.Replace(d.Passages[0].Text))
		// The abstract line starts at len(title)+1 in PubTator's frame;
		// later passages go where their offsets say, gaps as spaces.
		base := d.Passages[0].Offset + len([]rune(d.Passages[0].Text)) + 1
		var rest []rune
		for _, ps := range d.Passages[1:] {
			for len(rest) < ps.Offset-base {
				rest = append(rest, ' ')
			}
			rest = append(rest, []rune(flat.Replace(ps.Text))...)
		}
		fmt.Fprintf(bw, "%s|a|%s\n", d.ID, string(rest))
	}
	for _, a := range d.Annotations {
		fmt.Fprintf(bw, "%s\t%d\t%d\t%s\t%s\t%s\n", d.ID, a.Begin, a.End, flat.Replace(a.Text), flat.Replace(a.Type), flat.Replace(a.Identifier))
	}
	bw.WriteByte('\n')
	return bw.Flush()
}

func (p *pubtator) Close() error { return nil }
