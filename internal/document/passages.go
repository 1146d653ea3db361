package document

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Passages is an immutable list of passages. It is a comparable value (the
// list is kept encoded) so that Document stays comparable; its JSON form
// is the array [{"type","offset"},…] of schemas/batch.schema.json.
type Passages struct{ enc string }

// NewPassages returns the list ps.
func NewPassages(ps []Passage) Passages {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(strconv.Itoa(p.Offset))
		b.WriteByte('\t')
		b.WriteString(strings.ReplaceAll(p.Type, "\n", " "))
		b.WriteByte('\n')
	}
	return Passages{b.String()}
}

// List returns the passages (a new slice).
func (p Passages) List() []Passage {
	if p.enc == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(p.enc, "\n"), "\n")
	out := make([]Passage, len(lines))
	for i, l := range lines {
		off, typ, _ := strings.Cut(l, "\t")
		out[i].Offset, _ = strconv.Atoi(off)
		out[i].Type = typ
	}
	return out
}

// Len is the number of passages.
func (p Passages) Len() int { return strings.Count(p.enc, "\n") }

// IsZero reports whether there are no passages (for omitzero).
func (p Passages) IsZero() bool { return p.enc == "" }

// MarshalJSON writes the passages as a JSON array.
func (p Passages) MarshalJSON() ([]byte, error) {
	l := p.List()
	if l == nil {
		l = []Passage{}
	}
	return json.Marshal(l)
}

// UnmarshalJSON reads a JSON array of passages.
func (p *Passages) UnmarshalJSON(data []byte) error {
	var l []Passage
	if err := json.Unmarshal(data, &l); err != nil {
		return err
	}
	*p = NewPassages(l)
	return nil
}
