package document

import (
	"fmt"
	"slices"
	"strings"
)

// DeadLetterReason says why the worker dead-lettered a record or a
// document. It is the reason label of nerstream_dead_letters_total and the
// value of HeaderDeadLetterReason; producer redrive selects dead letters by
// it.
type DeadLetterReason string

// The worker's dead-letter reasons.
const (
	// ReasonMalformedBatch: the record is not a readable batch; the dead
	// letter carries the record's value (kind "record").
	ReasonMalformedBatch DeadLetterReason = "malformed_batch"
	// ReasonBatchTooLarge: a readable batch over the worker's batch limits,
	// dead-lettered one valid document per dead letter.
	ReasonBatchTooLarge DeadLetterReason = "batch_too_large"
	// ReasonInvalidDocument: one document that failed validation, as
	// received.
	ReasonInvalidDocument DeadLetterReason = "invalid_document"
	// ReasonDocumentTooLarge: a document too large to decode; the dead
	// letter carries only an excerpt of it, so it cannot be redriven.
	ReasonDocumentTooLarge DeadLetterReason = "document_too_large"
	// ReasonModelFailure: a valid document the model failed on.
	ReasonModelFailure DeadLetterReason = "model_failure"
)

// DeadLetterReasons lists every reason, in a stable order.
var DeadLetterReasons = []DeadLetterReason{ReasonMalformedBatch, ReasonBatchTooLarge, ReasonInvalidDocument,
	ReasonDocumentTooLarge, ReasonModelFailure}

// ParseDeadLetterReasons parses a comma-separated list of reasons; an
// unknown one is an error naming it and the known ones.
func ParseDeadLetterReasons(s string) ([]DeadLetterReason, error) {
	var out []DeadLetterReason
	for _, f := range strings.Split(s, ",") {
		r := DeadLetterReason(strings.TrimSpace(f))
		if r == "" {
			continue
		}
		if !slices.Contains(DeadLetterReasons, r) {
			return nil, fmt.Errorf("unknown dead-letter reason %q (want one of %s)", r, joinReasons(DeadLetterReasons))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func joinReasons(rs []DeadLetterReason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
