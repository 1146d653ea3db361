package ner

import (
	"fmt"
	"math"
	"strings"
)

// Aggregation chooses how a word's label distribution is derived from its
// wordpieces.
type Aggregation int

const (
	// AggFirst uses the first wordpiece of each word (BERT's convention).
	AggFirst Aggregation = iota
	// AggAverage averages the softmax over the word's wordpieces.
	AggAverage
	// AggMax takes the distribution of the wordpiece with the most confident label.
	AggMax
)

// ParseAggregation parses "first", "average" or "max".
func ParseAggregation(s string) (Aggregation, error) {
	switch s {
	case "", "first":
		return AggFirst, nil
	case "average", "avg", "mean":
		return AggAverage, nil
	case "max":
		return AggMax, nil
	}
	return 0, fmt.Errorf("aggregation %q: want first, average or max", s)
}

func (a Aggregation) String() string {
	return [...]string{"first", "average", "max"}[a]
}

// Decoding chooses how word labels become a BIO sequence.
type Decoding int

const (
	// DecodeViterbi picks the most probable valid BIO sequence (or uses the
	// bundle's CRF transitions).
	DecodeViterbi Decoding = iota
	// DecodeArgmax takes each word's most probable label independently.
	DecodeArgmax
)

// ParseDecoding parses "viterbi" or "argmax".
func ParseDecoding(s string) (Decoding, error) {
	switch s {
	case "", "viterbi", "bio-viterbi", "crf":
		return DecodeViterbi, nil
	case "argmax":
		return DecodeArgmax, nil
	}
	return 0, fmt.Errorf("decoding %q: want viterbi or argmax", s)
}

func (d Decoding) String() string { return [...]string{"viterbi", "argmax"}[d] }

// labelSet is the parsed label inventory of a model.
type labelSet struct {
	names   []string
	kind    []byte   // 'O', 'B' or 'I'
	typ     []string // entity type, "" for O
	allow   [][]bool // allow[prev][next] under BIO rules
	start   []bool   // allowed as the first label of a sentence
	outside int      // index of O, or -1
}

func newLabelSet(labels []string) (*labelSet, error) {
	n := len(labels)
	ls := &labelSet{names: labels, kind: make([]byte, n), typ: make([]string, n), outside: -1}
	for i, l := range labels {
		switch {
		case l == "O":
			ls.kind[i], ls.outside = 'O', i
		case strings.HasPrefix(l, "B-") && len(l) > 2:
			ls.kind[i], ls.typ[i] = 'B', l[2:]
		case strings.HasPrefix(l, "I-") && len(l) > 2:
			ls.kind[i], ls.typ[i] = 'I', l[2:]
		default:
			return nil, fmt.Errorf("label %d %q is not O, B-X or I-X", i, l)
		}
	}
	ls.allow = make([][]bool, n)
	ls.start = make([]bool, n)
	for a := range n {
		ls.allow[a] = make([]bool, n)
		ls.start[a] = ls.kind[a] != 'I'
		for b := range n {
			// I-X may only follow B-X or I-X.
			ls.allow[a][b] = ls.kind[b] != 'I' || (ls.kind[a] != 'O' && ls.typ[a] == ls.typ[b])
		}
	}
	return ls, nil
}

// viterbi returns the best path through scores (n×L, row-major) where
// scores are per-position log-scores. With crf == nil only BIO-valid
// transitions are allowed (score 0); otherwise the CRF's transition, start and
// end scores are added.
func (ls *labelSet) viterbi(scores []float32, n int, crf *crfScores, path []int) []int {
	L := len(ls.names)
	path = path[:0]
	if n == 0 {
		return path
	}
	negInf := float32(math.Inf(-1))
	prev := make([]float32, L)
	cur := make([]float32, L)
	back := make([]int32, n*L)
	for j := range L {
		prev[j] = negInf
		if crf != nil {
			prev[j] = crf.start[j] + scores[j]
		} else if ls.start[j] {
			prev[j] = scores[j]
		}
	}
	for t := 1; t < n; t++ {
		row := scores[t*L : (t+1)*L]
		for j := range L {
			best, arg := negInf, int32(-1)
			for i := range L {
				if prev[i] == negInf {
					continue
				}
				var s float32
				if crf != nil {
					s = prev[i] + crf.trans[i*L+j]
				} else if ls.allow[i][j] {
					s = prev[i]
				} else {
					continue
				}
				if arg < 0 || s > best {
					best, arg = s, int32(i)
				}
			}
			if arg < 0 {
				cur[j] = negInf
			} else {
				cur[j] = best + row[j]
			}
			back[t*L+j] = arg
		}
		prev, cur = cur, prev
	}
	best, arg := negInf, -1
	for j := range L {
		s := prev[j]
		if crf != nil && s != negInf {
			s += crf.end[j]
		}
		if s != negInf && (arg < 0 || s > best) {
			best, arg = s, j
		}
	}
	if arg < 0 { // cannot happen with an O label; fall back to argmax
		return ls.argmax(scores, n, path)
	}
	for range n {
		path = append(path, 0)
	}
	for t := n - 1; t >= 0; t-- {
		path[t] = arg
		arg = int(back[t*L+arg])
	}
	return path
}

func (ls *labelSet) argmax(scores []float32, n int, path []int) []int {
	L := len(ls.names)
	path = path[:0]
	for t := range n {
		row := scores[t*L : (t+1)*L]
		best := 0
		for j := 1; j < L; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		path = append(path, best)
	}
	return path
}

// span is a decoded chunk over word indexes [first, last].
type span struct {
	first, last int
	typ         string
}

// chunks groups a label path into BIO chunks like NerConverter: B-X starts a
// chunk; I-X continues an open X chunk, otherwise starts one; O closes.
func (ls *labelSet) chunks(path []int, out []span) []span {
	out = out[:0]
	open := -1
	for t, l := range path {
		switch ls.kind[l] {
		case 'O':
			open = -1
		case 'B':
			out = append(out, span{first: t, last: t, typ: ls.typ[l]})
			open = len(out) - 1
		case 'I':
			if open >= 0 && out[open].typ == ls.typ[l] {
				out[open].last = t
			} else {
				out = append(out, span{first: t, last: t, typ: ls.typ[l]})
				open = len(out) - 1
			}
		}
	}
	return out
}

// crfScores is a flattened CRF.
type crfScores struct {
	trans      []float32 // [from*L+to]
	start, end []float32
}

// softmaxInto writes softmax(logits) into dst.
func softmaxInto(dst, logits []float32) {
	m := logits[0]
	for _, v := range logits[1:] {
		if v > m {
			m = v
		}
	}
	var sum float64
	for i, v := range logits {
		e := math.Exp(float64(v - m))
		dst[i] = float32(e)
		sum += e
	}
	inv := float32(1 / sum)
	for i := range dst {
		dst[i] *= inv
	}
}
