package formats

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// pubtator writes the PubTator format: per document a title line
// "ID|t|text", an abstract line "ID|a|text" (full-text passages after the
// first go into the abstract line at their offsets, gaps filled with
// spaces, so offsets stay valid), then one line per annotation
// "ID<TAB>begin<TAB>end<TAB>text<TAB>type<TAB>identifier", then an empty line.
// Tabs and newlines inside texts become spaces (same length).
type pubtator struct{ w io.Writer }

var flat = strings.NewReplacer("\n", " ", "\r", " ", "\t", " ")

func (p *pubtator) Write(d Document) error {
	if strings.ContainsAny(d.ID, "|\t\n") {
		return fmt.Errorf("pubtator: document id %q contains '|', a tab or a newline", d.ID)
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
