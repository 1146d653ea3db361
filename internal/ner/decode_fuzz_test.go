package ner

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzBIODecode feeds arbitrary scores through constrained Viterbi, argmax
// and chunking: the Viterbi path is always BIO-valid, every chunk spans
// valid positions in order, and nothing panics.
func FuzzBIODecode(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, uint8(3))
	f.Add([]byte{0xff, 0x7f, 0, 0, 0x80, 0xff, 1, 2}, uint8(1))
	labels := []string{"O", "B-protein", "I-protein", "B-DNA", "I-DNA"}
	ls, err := newLabelSet(labels)
	if err != nil {
		f.Fatal(err)
	}
	L := len(labels)
	f.Fuzz(func(t *testing.T, data []byte, nb uint8) {
		n := len(data) / 4 / L
		if n > 256 {
			n = 256
		}
		scores := make([]float32, n*L)
		for i := range scores {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				v = 0
			}
			scores[i] = v
		}
		path := ls.viterbi(scores, n, nil, nil)
		if len(path) != n {
			t.Fatalf("viterbi path %d long, want %d", len(path), n)
		}
		for i, l := range path {
			if l < 0 || l >= L {
				t.Fatalf("label %d out of range", l)
			}
			if i == 0 && !ls.start[l] || i > 0 && !ls.allow[path[i-1]][l] {
				t.Fatalf("viterbi path %v breaks BIO at %d", path, i)
			}
		}
		for _, p := range [][]int{path, ls.argmax(scores, n, nil)} {
			last := -1
			for _, s := range ls.chunks(p, nil) {
				if s.first <= last || s.last < s.first || s.last >= n || s.typ == "" {
					t.Fatalf("chunk %+v after %d in %v", s, last, p)
				}
				last = s.last
			}
		}
		_ = nb
	})
}
