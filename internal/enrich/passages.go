package enrich

import (
	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/formats"
)

// Passages returns the passages of a document in the frame of
// d.Content(): the source's own (PMC full text) when it has them, else a
// title and an abstract passage (either may be missing).
func Passages(d document.Document) []formats.Passage {
	if ps := d.Passages.List(); len(ps) > 0 {
		out := make([]formats.Passage, len(ps))
		for i, p := range ps {
			out[i] = formats.Passage{Type: p.Type, Offset: p.Offset}
		}
		return out
	}
	switch {
	case d.Title != "" && d.Text != "":
		return []formats.Passage{{Type: "title"}, {Type: "abstract", Offset: len([]rune(d.Title)) + 1}}
	case d.Title != "":
		return []formats.Passage{{Type: "title"}}
	case d.Text != "":
		return []formats.Passage{{Type: "abstract"}}
	}
	return nil
}
