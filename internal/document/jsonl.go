package document

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// JSONLStats counts what ScanJSONL read.
type JSONLStats struct {
	// Lines is the number of lines read, blank ones included.
	Lines int64
	// Docs is the number of documents passed to the callback.
	Docs int64
	// Rejected is the number of lines written to the rejects sink.
	Rejected int64
	// Bytes is the number of input bytes read.
	Bytes int64
}

// jsonlLine is the lenient input format of one JSON line.
type jsonlLine struct {
	ID      *string         `json:"id"`
	PMID    json.RawMessage `json:"pmid"`
	Title   string          `json:"title"`
	Text    *string         `json:"text"`
	Version int             `json:"version"`
	Op      string          `json:"op"`
}

// ScanJSONL reads JSON-lines documents from r and calls fn for each valid one
// with its 1-based line number. It is the one reader of this format: the
// producer, `worker annotate` and `worker eval` all read through it.
//
// Each non-blank line is an object with "id" (or, for files like the JNLPBA
// *.docs.jsonl, "pmid" as a string or number) and "text" (required unless op
// is "delete"), plus optional "title", "version" and "op"; other fields are
// ignored. A UTF-8 byte-order mark before the first line is skipped; input
// that starts as UTF-16 or UTF-32 is refused naming the encoding. A line
// that is not such an object, fails Validate against lim, or is longer than
// lim.MaxDocBytes*2+64KiB is written to rejects with its line number and
// skipped (a [StrictRejects] sink turns it into an error instead). An error
// from fn or from reading r stops the scan and is returned, wrapped with
// name.
func ScanJSONL(ctx context.Context, r io.Reader, name string, lim Limits, rejects *RejectSink, fn func(doc Document, line int64) error) (JSONLStats, error) {
	return ScanJSONLRaw(ctx, r, name, lim, rejects, func(doc Document, line int64, _ []byte) error { return fn(doc, line) })
}

// ScanJSONLRaw is ScanJSONL for readers of extra fields (gold entities, say):
// fn also receives the line's JSON, valid only until fn returns.
func ScanJSONLRaw(ctx context.Context, r io.Reader, name string, lim Limits, rejects *RejectSink, fn func(doc Document, line int64, raw []byte) error) (JSONLStats, error) {
	var st JSONLStats
	maxLine := 64 << 10
	if lim.MaxDocBytes > 0 {
		maxLine += 2 * lim.MaxDocBytes
	} else {
		maxLine = 1 << 30
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if start, _ := br.Peek(sniffPrefix); len(start) > 0 {
		if err := checkEncoding(start); err != nil {
			return st, Unreadable(fmt.Errorf("%s: %w", name, err))
		}
	}
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("%s:%d: %w", name, st.Lines+1, err)
		}
		buf = buf[:0]
		tooLong := false
		var rerr error
		for {
			chunk, err := br.ReadSlice('\n')
			st.Bytes += int64(len(chunk))
			if !tooLong {
				if len(buf)+len(chunk) > maxLine {
					tooLong, buf = true, buf[:0]
				} else {
					buf = append(buf, chunk...)
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			rerr = err
			break
		}
		if rerr != nil && rerr != io.EOF {
			return st, fmt.Errorf("%s:%d: %w", name, st.Lines+1, rerr)
		}
		if rerr == io.EOF && len(buf) == 0 && !tooLong {
			return st, nil
		}
		st.Lines++
		line := st.Lines
		reject := func(id string, err error) error {
			st.Rejected++
			return rejects.Write(Reject{File: name, Index: line, Line: line, ID: id, Error: err.Error()})
		}
		var werr error
		switch trimmed := bytes.TrimSpace(trimBOM(buf, line)); {
		case tooLong:
			werr = reject("", fmt.Errorf("line longer than %d bytes", maxLine))
		case len(trimmed) == 0:
		default:
			doc, err := parseJSONLLine(trimmed, lim)
			if err != nil {
				werr = reject(doc.ID, err)
				break
			}
			st.Docs++
			if err := fn(doc, line, trimmed); err != nil {
				return st, fmt.Errorf("%s:%d: %w", name, line, err)
			}
		}
		if werr != nil {
			return st, werr
		}
		if rerr == io.EOF {
			return st, nil
		}
	}
}

func parseJSONLLine(data []byte, lim Limits) (Document, error) {
	var l jsonlLine
	var d Document
	if err := json.Unmarshal(data, &l); err != nil {
		return d, fmt.Errorf("not a JSON document object: %w", err)
	}
	switch {
	case l.ID != nil:
		d.ID = *l.ID
	case len(l.PMID) > 0:
		var s string
		if err := json.Unmarshal(l.PMID, &s); err != nil {
			var n json.Number
			if err2 := json.Unmarshal(l.PMID, &n); err2 != nil {
				return d, &FieldError{"pmid", "want a string or a number"}
			}
			s = n.String()
		}
		d.ID = s
	default:
		return d, &FieldError{"id", "missing"}
	}
	d.Title, d.Version, d.Op = l.Title, l.Version, Op(l.Op)
	if d.Op == "" {
		d.Op = OpUpsert
	}
	if l.Text != nil {
		d.Text = *l.Text
	} else if d.Op != OpDelete {
		return d, &FieldError{"text", "missing (required unless op is delete)"}
	}
	if err := Validate(d, lim); err != nil {
		return d, err
	}
	return d, nil
}
