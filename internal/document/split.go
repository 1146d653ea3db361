package document

import (
	"encoding/json"
	"errors"
	"fmt"
)

// SplitBatch walks a batch message too large to decode whole (over
// Limits.MaxBatchBytes) and calls fn for each element of its "documents"
// array, in order, with the element's raw JSON: a subslice of data, never a
// copy, so memory stays bounded by what fn keeps. fn and the result carry
// the batch's id.
//
// SplitBatch checks the message's shape (one JSON object, an "id" string of
// at most MaxBatchIDBytes, a "documents" array) before calling fn at all,
// so a message that is not a batch returns an error wrapping
// ErrMalformedBatch and fn never runs. It does not validate the elements:
// fn decides (DecodeDocument for those within the document limit,
// DocumentID for the others).
func SplitBatch(data []byte, fn func(batchID string, index int, raw []byte) error) (id string, err error) {
	id, n, err := walkBatch(data, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformedBatch, err)
	}
	if n < 0 {
		return id, fmt.Errorf("%w: batch %q: no documents array", ErrMalformedBatch, id)
	}
	_, _, err = walkBatch(data, func(i int, raw []byte) error { return fn(id, i, raw) })
	return id, err
}

// walkBatch scans the top-level object; with fn nil it only checks the
// shape. n is the number of documents (-1: no documents array).
func walkBatch(data []byte, fn func(int, []byte) error) (id string, n int, err error) {
	s := scanner{data: data}
	n, hasID := -1, false
	err = s.object(func(key string) error {
		switch key {
		case "id":
			raw, err := s.value()
			if err != nil {
				return err
			}
			if len(raw) > MaxBatchIDBytes+2 || json.Unmarshal(raw, &id) != nil {
				return fmt.Errorf("id: not a string of at most %d bytes", MaxBatchIDBytes)
			}
			hasID = true
			return nil
		case "documents":
			n = 0
			return s.array(func() error {
				raw, err := s.value()
				if err == nil && fn != nil {
					err = fn(n, raw)
				}
				n++
				return err
			})
		default:
			_, err := s.value()
			return err
		}
	})
	if err == nil && !hasID {
		err = errors.New(`missing field "id"`)
	}
	if s.ws(); err == nil && s.pos < len(data) {
		err = fmt.Errorf("trailing data after the JSON object (%d bytes)", len(data)-s.pos)
	}
	return id, n, err
}

// DocumentID returns the "id" of one raw document without decoding the
// rest of it (for a document too large to decode), or "" when it has none
// or is not an object.
func DocumentID(raw []byte) string {
	s := scanner{data: raw}
	var id string
	_ = s.object(func(key string) error {
		v, err := s.value()
		if err == nil && key == "id" && len(v) <= 1024 {
			_ = json.Unmarshal(v, &id)
		}
		return err
	})
	return id
}

// DecodeDocument decodes and validates one raw document of a batch, as
// DecodeBatch does for each element; the id is returned when it could be
// read even if the document is invalid.
func DecodeDocument(raw []byte, lim Limits) (Document, string, error) {
	return decodeDoc(raw, lim)
}
