package document

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBatchIDStable(t *testing.T) {
	a := BatchID("f.xml.gz", 0, 63)
	if a != BatchID("f.xml.gz", 0, 63) {
		t.Fatal("BatchID not deterministic")
	}
	if len(a) != 16 {
		t.Errorf("len = %d, want 16", len(a))
	}
	for _, other := range []string{BatchID("f.xml.gz", 0, 62), BatchID("f.xml.gz", 1, 63), BatchID("g.xml.gz", 0, 63), BatchID("f.xml.gz|0", 63, 63)} {
		if other == a {
			t.Errorf("collision with %s", other)
		}
	}
}

func TestBatcherBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name     string
		maxDocs  int
		maxBytes int
		docLen   func() int
	}{
		{"count bound", 5, 1 << 20, func() int { return 10 }},
		{"byte bound", 1000, 2000, func() int { return 300 }},
		{"mixed", 8, 5000, func() int { return rng.IntN(1500) }},
		{"default docs", 0, 0, func() int { return 20 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBatcher("file.jsonl", WithMaxDocs(tt.maxDocs), WithMaxBytes(tt.maxBytes))
			lim := b.Limits()
			var batches []*Batch
			var n int64
			for i := range 300 {
				d := Document{ID: fmt.Sprint("d", i), Text: strings.Repeat("é\"", tt.docLen()/3)}
				full, err := b.Add(d, int64(i*2+1))
				if err != nil {
					t.Fatal(err)
				}
				if full != nil {
					batches = append(batches, full)
				}
				n++
			}
			if last := b.Flush(); last != nil {
				batches = append(batches, last)
			}
			if b.Flush() != nil || b.Pending() != 0 {
				t.Error("second Flush returned a batch")
			}
			var total int64
			next := int64(1)
			for _, bt := range batches {
				data, err := EncodeBatch(bt)
				if err != nil {
					t.Fatal(err)
				}
				if len(data) > lim.MaxBatchBytes {
					t.Errorf("batch %s: %d bytes > %d", bt.ID, len(data), lim.MaxBatchBytes)
				}
				if len(bt.Documents) > lim.MaxDocs || len(bt.Documents) == 0 {
					t.Errorf("batch %s: %d docs (max %d)", bt.ID, len(bt.Documents), lim.MaxDocs)
				}
				if bt.Source.First != next || bt.Source.Last != bt.Source.First+int64(2*(len(bt.Documents)-1)) {
					t.Errorf("batch source %+v, want first %d", bt.Source, next)
				}
				next = bt.Source.Last + 2
				if bt.ID != BatchID("file.jsonl", bt.Source.First, bt.Source.Last) {
					t.Errorf("batch id %s does not derive from its source", bt.ID)
				}
				if _, err := DecodeBatch(data, lim); err != nil {
					t.Errorf("batch does not decode under the batcher's limits: %v", err)
				}
				total += int64(len(bt.Documents))
			}
			if total != n {
				t.Errorf("%d docs in batches, %d added", total, n)
			}
			if tt.maxDocs == 0 && len(batches[0].Documents) != DefaultBatchDocs {
				t.Errorf("default batch has %d docs", len(batches[0].Documents))
			}
			// A bound must actually have been hit where it is the only one.
			if tt.name == "byte bound" && len(batches[0].Documents) >= 1000 {
				t.Error("byte bound never applied")
			}
		})
	}
}

func TestBatcherRejects(t *testing.T) {
	b := NewBatcher("f", WithMaxBytes(500), WithMaxDocBytes(2000))
	if _, err := b.Add(Document{ID: "ok", Text: "x"}, 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		doc  Document
		pos  int64
		want string
	}{
		{"invalid", Document{ID: "", Text: "x"}, 2, "id: empty"},
		{"over doc limit", Document{ID: "a", Text: strings.Repeat("x", 2001)}, 3, "over the limit of 2000"},
		{"over batch limit", Document{ID: "a", Text: strings.Repeat("x", 1000)}, 4, "over the batch limit"},
		{"position not increasing", Document{ID: "a", Text: "x"}, 1, "not after 1"},
	}
	for _, tt := range tests {
		_, err := b.Add(tt.doc, tt.pos)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
		if tt.name != "position not increasing" && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tt.name, err)
		}
	}
	if got := b.Flush(); got == nil || len(got.Documents) != 1 || got.Source.Last != 1 {
		t.Errorf("rejected docs changed the pending batch: %+v", got)
	}
}

func TestBatcherDeterministic(t *testing.T) {
	run := func() []string {
		b := NewBatcher("f", WithMaxDocs(7), WithMaxBytes(3000))
		var ids []string
		for i := range 100 {
			full, err := b.Add(Document{ID: fmt.Sprint(i), Text: strings.Repeat("a", i*7%200)}, int64(i))
			if err != nil {
				t.Fatal(err)
			}
			if full != nil {
				ids = append(ids, full.ID)
			}
		}
		return append(ids, b.Flush().ID)
	}
	a, b := run(), run()
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Error("batch ids differ between identical runs")
	}
}

// TestBatcherRefusesADuplicateInTheSameBatch: a second document with the
// same id and version in the batch it would join is refused naming both
// positions (DecodeBatch would dead-letter it); another version, or the
// same pair in a later batch (a replay), is accepted.
func TestBatcherRefusesADuplicateInTheSameBatch(t *testing.T) {
	b := NewBatcher("f.jsonl", WithMaxDocs(3))
	add := func(id string, version int, pos int64) error {
		_, err := b.Add(Document{ID: id, Text: "t", Version: version}, pos)
		return err
	}
	for _, tc := range []struct {
		id      string
		version int
		pos     int64
		want    string // "" = accepted
	}{
		{"a", 1, 1, ""},
		{"b", 1, 2, ""},
		{"a", 1, 3, "f.jsonl: position 3: id: duplicate of position 1 in the same batch"},
		{"a", 2, 4, ""},
		{"b", 1, 5, ""}, // the batch is full: b starts the next one
		{"b", 1, 6, "position 6: id: duplicate of position 5"},
	} {
		err := add(tc.id, tc.version, tc.pos)
		switch {
		case tc.want == "" && err != nil:
			t.Fatalf("%s v%d at %d refused: %v", tc.id, tc.version, tc.pos, err)
		case tc.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
			t.Fatalf("%s v%d at %d: err = %v, want %q", tc.id, tc.version, tc.pos, err, tc.want)
		}
	}
	last := b.Flush()
	if last == nil || len(last.Documents) != 1 || last.Source.First != 5 {
		t.Fatalf("last batch %+v, want b alone from position 5", last)
	}
	if _, err := DecodeBatch(mustEncode(t, last), DefaultLimits()); err != nil {
		t.Fatal(err)
	}
}

func mustEncode(t *testing.T, b *Batch) []byte {
	t.Helper()
	data, err := EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
