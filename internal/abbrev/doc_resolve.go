package abbrev

// Doc is the abbreviation index of one document: its definitions and every
// occurrence of each short form as a whole token from its definition on.
type Doc struct {
	pairs []Pair
	// at maps the code-point span of a short-form occurrence to its pair.
	at map[[2]int]int
}

// NewDoc detects the definitions of text and indexes their occurrences.
func NewDoc(text string) *Doc {
	d := &Doc{pairs: Detect(text), at: map[[2]int]int{}}
	if len(d.pairs) == 0 {
		return d
	}
	r := []rune(text)
	for pi, p := range d.pairs {
		sf := []rune(p.Short.Text)
		for i := p.Short.Begin; i+len(sf) <= len(r); i++ {
			if !equal(r[i:i+len(sf)], sf) {
				continue
			}
			if (i > 0 && isWordChar(r[i-1])) || (i+len(sf) < len(r) && isWordChar(r[i+len(sf)])) {
				continue
			}
			// Inside the long form of its own definition is not a mention.
			if i >= p.Long.Begin && i < p.Long.End {
				continue
			}
			if _, taken := d.at[[2]int{i, i + len(sf)}]; !taken {
				d.at[[2]int{i, i + len(sf)}] = pi
			}
		}
	}
	return d
}

func equal(a, b []rune) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Pairs returns the definitions in text order.
func (d *Doc) Pairs() []Pair { return d.pairs }

// ShortFormAt reports whether the span [begin, end) is an occurrence of a
// defined short form (its definition or a later mention) and returns the
// definition. Surrounding spaces are not trimmed: the span must be exact.
func (d *Doc) ShortFormAt(begin, end int) (Pair, bool) {
	pi, ok := d.at[[2]int{begin, end}]
	if !ok {
		return Pair{}, false
	}
	return d.pairs[pi], true
}

// Mention is an entity mention to resolve: a code-point span and its type.
type Mention struct {
	Begin, End int
	Label      string
}

// Resolution says that a mention is a short form.
type Resolution struct {
	// Pair is the definition the mention is a short form of.
	Pair Pair
	// Label is the type the mention takes: the type of the mention that
	// covers the long form when there is one, else the mention's own.
	Label string
	// FromLongForm is true when Label came from the long form's mention.
	FromLongForm bool
}

// Resolve returns, for each mention (same index), its resolution, or nil
// when the mention is not a short form. The long form's mention is the
// longest mention that ends exactly where the long form ends (it may start
// inside the long form or before it). On the devel abstracts this rule
// relabels fewer short forms than also accepting mentions that contain the
// whole definition, which turned protein short forms into DNA.
func (d *Doc) Resolve(ms []Mention) []*Resolution {
	out := make([]*Resolution, len(ms))
	if len(d.pairs) == 0 {
		return out
	}
	longLabel := make([]string, len(d.pairs))
	longLen := make([]int, len(d.pairs))
	for _, m := range ms {
		for pi, p := range d.pairs {
			// The long form's mention ends where the long form ends; one
			// running on past it ("interleukin 2 (IL-2) gene", a DNA
			// mention that contains the definition) says nothing about
			// the short form's type.
			if m.End == p.Long.End && m.End-m.Begin > longLen[pi] && m.Begin < p.Long.End {
				longLen[pi] = m.End - m.Begin
				longLabel[pi] = m.Label
			}
		}
	}
	for i, m := range ms {
		pi, ok := d.at[[2]int{m.Begin, m.End}]
		if !ok {
			continue
		}
		res := &Resolution{Pair: d.pairs[pi], Label: m.Label}
		if longLabel[pi] != "" {
			res.Label, res.FromLongForm = longLabel[pi], true
		}
		out[i] = res
	}
	return out
}
