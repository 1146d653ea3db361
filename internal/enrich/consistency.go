package enrich

// agree makes repeated identical mentions of one document agree on their
// label: every chunk whose text occurs more than once among the document's
// chunks takes the label with the largest summed confidence over those
// chunks. A label set by abbreviation resolution (the short form took its
// long form's type) is the document's own definition and wins outright.
// Only labels change; spans and the chunk set do not.
func agree(out []Chunk) {
	type vote struct {
		sum   map[string]float64
		fixed string
		n     int
	}
	votes := map[string]*vote{}
	for i := range out {
		c := &out[i]
		v := votes[c.Text]
		if v == nil {
			v = &vote{sum: map[string]float64{}}
			votes[c.Text] = v
		}
		v.n++
		v.sum[c.Label] += c.Confidence
		if c.AbbreviationOf != nil && v.fixed == "" {
			v.fixed = c.Label
		}
	}
	for i := range out {
		c := &out[i]
		v := votes[c.Text]
		if v.n < 2 {
			continue
		}
		best := v.fixed
		if best == "" {
			for l, s := range v.sum {
				// ties go to the smaller label name so the result does not depend on map order
				if best == "" || s > v.sum[best] || (s == v.sum[best] && l < best) {
					best = l
				}
			}
		}
		c.Label = best
	}
}
