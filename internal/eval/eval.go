package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/nerstream/nerstream/internal/document"
)

// Span is an entity with code-point offsets [Begin, End) and a label (type
// without B-/I- prefix).
type Span struct {
	Begin int    `json:"begin"`
	End   int    `json:"end"`
	Label string `json:"label"`
}

// GoldDoc is a document with gold entities.
type GoldDoc struct {
	ID       string
	Text     string
	Entities []Span
}

// ReadDocs reads gold documents: the JSON lines of document.ScanJSONL
// ({"pmid"|"id", "text", "title"?}) with "entities": [{begin, end, label}]
// in code-point offsets of the annotated text (document.Content). A bad
// line is an error naming the file and line.
func ReadDocs(path string) ([]GoldDoc, error) { return ReadDocsMax(path, 0) }

// ReadDocsMax is ReadDocs refusing a document whose title+text exceeds
// maxDoc bytes (0: no limit), with an error naming the file, line and
// document, and never holding a line longer than the limit allows.
func ReadDocsMax(path string, maxDoc int) ([]GoldDoc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	var docs []GoldDoc
	_, err = document.ScanJSONLRaw(context.Background(), f, path, document.Limits{MaxDocBytes: maxDoc}, document.StrictRejects(),
		func(d document.Document, line int64, raw []byte) error {
			var g struct {
				Entities []Span `json:"entities"`
			}
			if err := json.Unmarshal(raw, &g); err != nil {
				return fmt.Errorf("entities: %w", err)
			}
			text := d.Content()
			n := utf8.RuneCountInString(text)
			for _, e := range g.Entities {
				if e.Begin < 0 || e.End > n || e.Begin >= e.End {
					return fmt.Errorf("entity [%d,%d) outside the text (%d code points)", e.Begin, e.End, n)
				}
			}
			docs = append(docs, GoldDoc{ID: d.ID, Text: text, Entities: g.Entities})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	return docs, nil
}

// Counts are true positives, false positives and false negatives.
type Counts struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	FN int `json:"fn"`
}

// Scores are precision, recall and F1 with their counts.
type Scores struct {
	Counts
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"` // gold entities
}

func (c Counts) scores() Scores {
	s := Scores{Counts: c, Support: c.TP + c.FN}
	if c.TP+c.FP > 0 {
		s.Precision = float64(c.TP) / float64(c.TP+c.FP)
	}
	if c.TP+c.FN > 0 {
		s.Recall = float64(c.TP) / float64(c.TP+c.FN)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}

// Report is the outcome of an evaluation.
type Report struct {
	Micro        Scores            `json:"micro"`
	PerLabel     map[string]Scores `json:"per_label"`
	PartialMicro Scores            `json:"partial_micro,omitempty"`
	Docs         int               `json:"docs"`
}

// Scorer accumulates exact and partial matches document by document.
type Scorer struct {
	exact   map[string]*Counts
	partial Counts
	docs    int
}

// NewScorer returns an empty Scorer.
func NewScorer() *Scorer { return &Scorer{exact: map[string]*Counts{}} }

func (s *Scorer) counts(label string) *Counts {
	c := s.exact[label]
	if c == nil {
		c = &Counts{}
		s.exact[label] = c
	}
	return c
}

// Add scores one document's predictions against its gold spans.
func (s *Scorer) Add(gold, pred []Span) {
	s.docs++
	g := map[Span]int{}
	for _, e := range gold {
		g[e]++
		s.counts(e.Label)
	}
	for _, p := range pred {
		c := s.counts(p.Label)
		if g[p] > 0 {
			g[p]--
			c.TP++
		} else {
			c.FP++
		}
	}
	for e, n := range g {
		s.counts(e.Label).FN += n
	}
	// Partial: greedy one-to-one matching of overlapping same-label spans.
	used := make([]bool, len(gold))
	for _, p := range pred {
		hit := false
		for i, e := range gold {
			if !used[i] && e.Label == p.Label && p.Begin < e.End && e.Begin < p.End {
				used[i], hit = true, true
				break
			}
		}
		if hit {
			s.partial.TP++
		} else {
			s.partial.FP++
		}
	}
	for _, u := range used {
		if !u {
			s.partial.FN++
		}
	}
}

// Report computes the scores so far.
func (s *Scorer) Report() Report {
	r := Report{PerLabel: map[string]Scores{}, Docs: s.docs, PartialMicro: s.partial.scores()}
	var micro Counts
	for l, c := range s.exact {
		r.PerLabel[l] = c.scores()
		micro.TP += c.TP
		micro.FP += c.FP
		micro.FN += c.FN
	}
	r.Micro = micro.scores()
	return r
}

// JNLPBAEvaluationMix is the gold entity count per label of the official
// JNLPBA 2004 evaluation abstracts (404 MEDLINE abstracts; the split itself is
// not in this repository). Devel over-represents DNA and under-represents
// cell_type relative to it, so devel scores are also reported reweighted to
// this mix (see Report.Reweighted).
var JNLPBAEvaluationMix = map[string]int{"protein": 5067, "cell_type": 1921, "DNA": 1056, "cell_line": 500, "RNA": 118}

// Reweighted returns micro scores with each label's counts scaled so that its
// gold support matches mix: label l's TP, FP and FN are multiplied by
// mix[l] / support(l). Labels missing from mix, or without gold support here,
// get weight 0. The result estimates the micro score this model would get on
// data with mix's label distribution and this data's per-label error rates.
// Its Counts and Support are the rounded scaled counts.
func (r Report) Reweighted(mix map[string]int) Scores {
	var tp, fp, fn float64
	for l, sc := range r.PerLabel {
		if mix[l] == 0 || sc.Support == 0 {
			continue
		}
		w := float64(mix[l]) / float64(sc.Support)
		tp += w * float64(sc.TP)
		fp += w * float64(sc.FP)
		fn += w * float64(sc.FN)
	}
	s := Scores{Counts: Counts{TP: int(math.Round(tp)), FP: int(math.Round(fp)), FN: int(math.Round(fn))}}
	s.Support = int(math.Round(tp + fn))
	if tp+fp > 0 {
		s.Precision = tp / (tp + fp)
	}
	if tp+fn > 0 {
		s.Recall = tp / (tp + fn)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}

// WriteTable prints the report as an aligned table.
func (r Report) WriteTable(w io.Writer) error {
	labels := make([]string, 0, len(r.PerLabel))
	for l := range r.PerLabel {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %9s %9s %9s %8s %6s %6s %6s\n", "label", "precision", "recall", "f1", "support", "tp", "fp", "fn")
	row := func(name string, s Scores) {
		fmt.Fprintf(&b, "%-12s %9.4f %9.4f %9.4f %8d %6d %6d %6d\n", name, s.Precision, s.Recall, s.F1, s.Support, s.TP, s.FP, s.FN)
	}
	for _, l := range labels {
		row(l, r.PerLabel[l])
	}
	row("micro", r.Micro)
	if rw := r.Reweighted(JNLPBAEvaluationMix); rw.Support > 0 {
		row("reweighted", rw)
	}
	if r.PartialMicro.Support > 0 {
		row("partial", r.PartialMicro)
	}
	fmt.Fprintf(&b, "documents: %d (reweighted: micro with each label scaled to the JNLPBA evaluation split's entity mix)\n", r.Docs)
	_, err := io.WriteString(w, b.String())
	return err
}
