package enrich

import (
	"github.com/nerstream/nerstream/internal/abbrev"
	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/ner"
	"github.com/nerstream/nerstream/internal/sink"
)

// Linker links a mention to a database identifier. Link returns the id
// ("NCBIGene:3558") and symbol of the single match, or "" with the number of
// candidates when the text matches none (0) or several (>1, ambiguous).
type Linker interface {
	Link(text string) (id, symbol string, candidates int)
}

// GeneLabels are the entity types that are looked up in a gene [Linker].
var GeneLabels = map[string]bool{"protein": true, "DNA": true, "RNA": true}

// Chunk is a model chunk with what the document adds to it.
type Chunk struct {
	ner.Chunk
	// AbbreviationOf is the long form when the chunk is a short form.
	AbbreviationOf *abbrev.Span `json:"abbreviation_of,omitempty"`
	// GeneID and GeneSymbol name the linked human gene.
	GeneID     string `json:"gene_id,omitempty"`
	GeneSymbol string `json:"gene_symbol,omitempty"`
	// GeneCandidates counts the genes the mention matched (1 when linked).
	GeneCandidates int `json:"gene_candidates,omitempty"`
	// Passage and PassageOffset locate the chunk's passage.
	Passage       string `json:"passage,omitempty"`
	PassageOffset int    `json:"passage_offset,omitempty"`
}

// Enricher applies the configured steps. The zero value (and nil) only
// assigns passages; it is safe for concurrent use once built.
type Enricher struct {
	abbrev  bool
	consist bool
	genes   Linker
}

// Option configures an Enricher.
type Option func(*Enricher)

// WithAbbreviations turns abbreviation resolution on or off.
func WithAbbreviations(on bool) Option { return func(e *Enricher) { e.abbrev = on } }

// WithConsistency makes repeated identical mentions within a document agree
// on their label (the label with the largest summed confidence; a short form's
// label from its long form wins). It runs after abbreviation resolution and
// before linking, and never adds, removes or moves a chunk.
func WithConsistency(on bool) Option { return func(e *Enricher) { e.consist = on } }

// WithLinker links protein, DNA and RNA chunks with l (a short form through
// its long form only); nil turns linking off.
func WithLinker(l Linker) Option { return func(e *Enricher) { e.genes = l } }

// The defaults of worker run, annotate and eval (their --abbreviations and
// --consistency flags). Consistency is off by default: with the CRF-decoded
// default models it moved devel F1 by noise-level amounts only (the first
// jnlpba-v2 0.7760 with it, 0.7766 without; d + e 0.7808 vs 0.7804; the
// current one 0.7834 vs 0.7832; other CRF bundles −0.02 to −0.08), while it
// helped the earlier softmax model (+0.28); see models/train/README.md.
const (
	DefaultAbbreviations = true
	DefaultConsistency   = false
)

// Default returns the Enricher of the commands' defaults (no gene linking).
func Default() *Enricher {
	return New(WithAbbreviations(DefaultAbbreviations), WithConsistency(DefaultConsistency))
}

// New returns an Enricher.
func New(opts ...Option) *Enricher {
	e := &Enricher{}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Apply enriches the chunks of one document. text is the annotated text
// (chunk offsets refer to it); passages may be nil. A short form takes the
// label of the long form's chunk (same document) when there is one.
func (e *Enricher) Apply(text string, chunks []ner.Chunk, passages []formats.Passage) []Chunk {
	out := make([]Chunk, len(chunks))
	for i, c := range chunks {
		out[i].Chunk = c
	}
	if e == nil {
		e = &Enricher{}
	}
	if e.abbrev && len(chunks) > 0 {
		d := abbrev.NewDoc(text)
		if len(d.Pairs()) > 0 {
			ms := make([]abbrev.Mention, len(chunks))
			for i, c := range chunks {
				ms[i] = abbrev.Mention{Begin: c.Begin, End: c.End, Label: c.Label}
			}
			for i, r := range d.Resolve(ms) {
				if r != nil {
					lf := r.Pair.Long
					out[i].AbbreviationOf = &lf
					out[i].Label = r.Label
				}
			}
		}
	}
	if e.consist {
		agree(out)
	}
	if e.genes != nil {
		for i := range out {
			c := &out[i]
			if !GeneLabels[c.Label] {
				continue
			}
			// A short form means what its document defined it as: it is
			// linked through its long form only ("PKC" after "protein kinase
			// C" is not the alias PKC of PRRT2; "PHA" after
			// "phytohemagglutinin" is no gene).
			text := c.Text
			if c.AbbreviationOf != nil {
				text = c.AbbreviationOf.Text
			}
			c.GeneID, c.GeneSymbol, c.GeneCandidates = e.genes.Link(text)
		}
	}
	for i := range out {
		for _, p := range passages {
			if p.Offset <= out[i].Begin {
				out[i].Passage, out[i].PassageOffset = p.Type, p.Offset
			}
		}
	}
	return out
}

// Fill copies the enrichment of c into a Parquet row.
func Fill(row *sink.Row, c Chunk) {
	row.Label = c.Label
	if c.AbbreviationOf != nil {
		row.AbbreviationOf, row.AbbreviationBegin, row.AbbreviationEnd = c.AbbreviationOf.Text, int32(c.AbbreviationOf.Begin), int32(c.AbbreviationOf.End)
	}
	row.GeneID, row.GeneSymbol, row.GeneCandidates = c.GeneID, c.GeneSymbol, int32(c.GeneCandidates)
	row.Passage, row.PassageOffset = c.Passage, int32(c.PassageOffset)
}

// Annotation converts a chunk into a formats annotation (confidence and
// abbreviation as infons).
func Annotation(c Chunk) formats.Annotation {
	a := formats.Annotation{Begin: c.Begin, End: c.End, Text: c.Text, Type: c.Label, Identifier: c.GeneID}
	return withInfons(a, c.Confidence, c.AbbreviationOf, c.GeneSymbol)
}

// RowAnnotation converts a Parquet chunk row into a formats annotation.
func RowAnnotation(r sink.Row) formats.Annotation {
	a := formats.Annotation{Begin: int(r.Begin), End: int(r.End), Text: r.Text, Type: r.Label, Identifier: r.GeneID}
	var lf *abbrev.Span
	if r.AbbreviationOf != "" {
		lf = &abbrev.Span{Begin: int(r.AbbreviationBegin), End: int(r.AbbreviationEnd), Text: r.AbbreviationOf}
	}
	return withInfons(a, float64(r.Confidence), lf, r.GeneSymbol)
}

func withInfons(a formats.Annotation, conf float64, lf *abbrev.Span, symbol string) formats.Annotation {
	a.Infons = append(a.Infons, [2]string{"confidence", formatConf(conf)})
	if symbol != "" {
		a.Infons = append(a.Infons, [2]string{"gene_symbol", symbol})
	}
	if lf != nil {
		a.Infons = append(a.Infons, [2]string{"abbreviation_of", lf.Text})
	}
	return a
}
