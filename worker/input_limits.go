package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/ner"
)

// docLimitFlag registers --max-doc-bytes for commands that read documents
// from files (annotate, eval), with worker run's default.
func docLimitFlag(fs *flag.FlagSet) *int {
	return fs.Int("max-doc-bytes", document.DefaultMaxDocBytes, "largest document (title+text) in bytes; a larger one is refused at once with its name (worker run's limit; raise it to annotate it)")
}

// readInputLimited is readInput bounded by maxDoc: a plain-text document is
// read only up to maxDoc+1 bytes and refused beyond, a JSON line longer than
// the limit allows is refused without being held whole, and every document
// is validated (empty or duplicate id, invalid UTF-8 id, size). Errors name
// the input, the line and the document.
func readInputLimited(path string, maxDoc int) ([]ner.Doc, error) {
	if maxDoc <= 0 {
		return nil, fmt.Errorf("--max-doc-bytes %d: must be positive", maxDoc)
	}
	var r io.Reader = os.Stdin
	name := "stdin"
	if path != "-" && path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("annotate: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("annotate: read %s: %w", name, err)
	}
	if t := bytes.TrimLeft(head, " \t\r\n\ufeff"); len(t) == 0 || t[0] != '{' {
		data, err := io.ReadAll(io.LimitReader(br, int64(maxDoc)+1))
		if err != nil {
			return nil, fmt.Errorf("annotate: read %s: %w", name, err)
		}
		if len(data) > maxDoc {
			return nil, fmt.Errorf("annotate: %s: plain-text document is larger than --max-doc-bytes %d; raise the limit to annotate it", name, maxDoc)
		}
		return []ner.Doc{{ID: name, Text: string(data)}}, nil
	}
	maxLine := 2*maxDoc + 64<<10 // JSON escaping may double a text
	var docs []ner.Doc
	seen := map[string]int{}
	for line := 1; ; line++ {
		data, err := readBoundedLine(br, maxLine)
		if errors.Is(err, errLineTooLong) {
			return nil, fmt.Errorf("annotate: %s:%d: line longer than %d bytes (--max-doc-bytes %d); raise the limit to annotate it", name, line, maxLine, maxDoc)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("annotate: read %s:%d: %w", name, line, err)
		}
		if len(bytes.TrimSpace(data)) > 0 {
			ds, perr := parseJSONLDocs(name, data)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", line, perr)
			}
			for _, d := range ds {
				if verr := document.Validate(document.Document{ID: d.ID, Text: d.Text}, document.Limits{MaxDocBytes: maxDoc}); verr != nil {
					return nil, fmt.Errorf("annotate: %s:%d: document %q: %w (--max-doc-bytes %d)", name, line, d.ID, verr, maxDoc)
				}
				if prev, dup := seen[d.ID]; dup {
					return nil, fmt.Errorf("annotate: %s:%d: duplicate document id %q (first on line %d); ids must be unique", name, line, d.ID, prev)
				}
				seen[d.ID] = line
				docs = append(docs, d)
			}
		}
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readBoundedLine reads one line (without its newline) of at most max bytes;
// a longer line returns errLineTooLong without being held.
func readBoundedLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max {
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}
