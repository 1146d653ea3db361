package document

import (
	"fmt"
	"io"
	"sync"
)

// Reject describes an input record that could not become a document. The
// producer writes one JSON line per Reject to its rejects file.
type Reject struct {
	// File is the input file.
	File string `json:"file"`
	// Index is the record index (PubMed) or the line number (JSON lines).
	Index int64 `json:"index"`
	// Line is the 1-based line in the (decompressed) input where the record
	// starts, when known.
	Line int64 `json:"line,omitempty"`
	// Offset is the byte offset in the (decompressed) input where the record
	// starts, when known.
	Offset int64 `json:"offset,omitempty"`
	// ID is the document id when it could be read.
	ID string `json:"id,omitempty"`
	// Error says why the record was rejected.
	Error string `json:"error"`
	// LostBytes counts input bytes skipped without being parsed (broken XML
	// skipped up to the next record).
	LostBytes int64 `json:"lost_bytes,omitempty"`
}

// RejectSink writes Rejects as JSON lines to an io.Writer; it is safe for
// concurrent use. A nil *RejectSink, or one built on a nil writer, discards
// rejects (but still counts them).
type RejectSink struct {
	mu     sync.Mutex
	w      io.Writer
	n      int
	strict bool
}

// NewRejectSink returns a sink writing to w (nil: discard).
func NewRejectSink(w io.Writer) *RejectSink { return &RejectSink{w: w} }

// StrictRejects returns a sink whose Write fails with the reject as the
// error ("file:line: reason"), for readers that refuse bad input instead of
// skipping it (`worker annotate`, `worker eval`).
func StrictRejects() *RejectSink { return &RejectSink{strict: true} }

// Write records r.
func (s *RejectSink) Write(r Reject) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.strict {
		if r.ID != "" {
			return fmt.Errorf("%s:%d: document %q: %s", r.File, r.Line, r.ID, r.Error)
		}
		return fmt.Errorf("%s:%d: %s", r.File, r.Line, r.Error)
	}
	if s.w == nil {
		return nil
	}
	data, err := marshal(r)
	if err != nil {
		return fmt.Errorf("write reject: %w", err)
	}
	if _, err := s.w.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write reject for %s #%d: %w", r.File, r.Index, err)
	}
	return nil
}

// Count returns how many rejects were written.
func (s *RejectSink) Count() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
