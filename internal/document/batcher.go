package document

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
)

// DefaultBatchDocs is the default number of documents per batch.
const DefaultBatchDocs = 64

// BatchID returns the stable id of the batch holding records first..last of
// file: the first 16 hex digits of sha256("file|first|last"). The same input
// range always gets the same id, so re-published batches are recognisable.
func BatchID(file string, first, last int64) string {
	h := sha256.Sum256([]byte(file + "|" + strconv.FormatInt(first, 10) + "|" + strconv.FormatInt(last, 10)))
	return hex.EncodeToString(h[:8])
}

// Batcher groups the documents of one source file into batches of at most
// MaxDocs documents and MaxBytes encoded bytes. It is deterministic: the same
// documents added with the same positions and settings give the same batches
// and ids. It is not safe for concurrent use.
type Batcher struct {
	file        string
	maxDocs     int
	maxBytes    int
	maxDocBytes int

	docs        []Document
	seen        map[idVersion]int64 // the pending batch's (id, version) pairs and their positions
	first, last int64
	size        int // encoded size of the pending batch
	overhead    int
}

type idVersion struct {
	id      string
	version int
}

// BatcherOption configures a Batcher.
type BatcherOption func(*Batcher)

// WithMaxDocs sets the maximum number of documents per batch (default
// DefaultBatchDocs); n <= 0 keeps the default.
func WithMaxDocs(n int) BatcherOption {
	return func(b *Batcher) {
		if n > 0 {
			b.maxDocs = n
		}
	}
}

// WithMaxBytes sets the maximum encoded size of a batch (default
// DefaultMaxBatchBytes); n <= 0 keeps the default.
func WithMaxBytes(n int) BatcherOption {
	return func(b *Batcher) {
		if n > 0 {
			b.maxBytes = n
		}
	}
}

// WithMaxDocBytes sets the maximum Content() size of one document (default
// DefaultMaxDocBytes); n <= 0 keeps the default.
func WithMaxDocBytes(n int) BatcherOption {
	return func(b *Batcher) {
		if n > 0 {
			b.maxDocBytes = n
		}
	}
}

// NewBatcher returns a Batcher for documents read from file (use the base
// name so that ids do not depend on where the file lies).
func NewBatcher(file string, opts ...BatcherOption) *Batcher {
	b := &Batcher{file: file, maxDocs: DefaultBatchDocs, maxBytes: DefaultMaxBatchBytes, maxDocBytes: DefaultMaxDocBytes}
	for _, o := range opts {
		o(b)
	}
	b.overhead = headerOverhead(file)
	return b
}

// Limits returns the limits a consumer needs to accept this Batcher's output.
func (b *Batcher) Limits() Limits {
	return Limits{MaxDocBytes: b.maxDocBytes, MaxBatchBytes: b.maxBytes, MaxDocs: b.maxDocs}
}

// Add appends doc, read at position pos (record index or line number; must
// increase from call to call). When doc does not fit into the pending batch,
// the pending batch is closed and returned as full, and doc starts the next
// one. An invalid document, one that cannot fit even in an empty batch, or
// one whose (id, version) is already in the batch it would join (DecodeBatch
// refuses such a batch's later duplicate) returns an error wrapping
// ErrInvalid, naming both positions, and leaves the Batcher unchanged.
func (b *Batcher) Add(doc Document, pos int64) (full *Batch, err error) {
	if err := Validate(doc, Limits{MaxDocBytes: b.maxDocBytes}); err != nil {
		return nil, fmt.Errorf("%s: position %d: %w", b.file, pos, err)
	}
	if len(b.docs) > 0 && pos <= b.last {
		return nil, fmt.Errorf("%s: position %d is not after %d", b.file, pos, b.last)
	}
	n, err := encodedDocSize(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: position %d: %w", b.file, pos, err)
	}
	if b.overhead+n > b.maxBytes {
		return nil, fmt.Errorf("%s: position %d: %w", b.file, pos,
			&FieldError{"text", fmt.Sprintf("document encodes to %d bytes, over the batch limit of %d", n, b.maxBytes-b.overhead)})
	}
	flush := len(b.docs) > 0 && (len(b.docs) >= b.maxDocs || b.size+1+n > b.maxBytes)
	key := idVersion{doc.ID, doc.Version}
	if first, dup := b.seen[key]; dup && !flush {
		return nil, fmt.Errorf("%s: position %d: %w", b.file, pos,
			&FieldError{"id", fmt.Sprintf("duplicate of position %d in the same batch (same id and version)", first)})
	}
	if flush {
		full = b.Flush()
	}
	if len(b.docs) == 0 {
		b.first, b.size = pos, b.overhead+n
		b.seen = map[idVersion]int64{}
	} else {
		b.size += 1 + n
	}
	b.last = pos
	b.docs = append(b.docs, doc)
	b.seen[key] = pos
	return full, nil
}

// Pending returns the number of documents in the pending batch.
func (b *Batcher) Pending() int { return len(b.docs) }

// Flush closes and returns the pending batch, or nil when there is none.
func (b *Batcher) Flush() *Batch {
	if len(b.docs) == 0 {
		return nil
	}
	out := &Batch{
		SchemaVersion: SchemaVersion,
		ID:            BatchID(b.file, b.first, b.last),
		Source:        Source{File: b.file, First: b.first, Last: b.last},
		Documents:     b.docs,
	}
	b.docs, b.size, b.seen = nil, 0, nil
	return out
}
