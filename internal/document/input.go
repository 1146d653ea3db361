package document

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// ErrUnreadable marks input that could not be read to its end: an I/O or
// decompression error, or syntax a parser cannot continue past. Errors that
// wrap it say where reading stopped; what was read before is valid.
var ErrUnreadable = errors.New("input not readable to its end")

// Unreadable wraps err so that errors.Is(err, ErrUnreadable) holds.
func Unreadable(err error) error {
	if err == nil {
		return nil
	}
	return unreadableError{err}
}

type unreadableError struct{ err error }

func (e unreadableError) Error() string   { return e.err.Error() }
func (e unreadableError) Unwrap() []error { return []error{e.err, ErrUnreadable} }

// Decompress returns the content of r: gunzipped when it starts with the
// gzip magic (gzipped is then true), else as is. Read errors of the result
// (other than io.EOF) wrap ErrUnreadable, so callers can tell bad input from
// their own failures. Content that starts as UTF-16 or UTF-32 (a byte-order
// mark, or NUL bytes) is refused at once with an error naming the encoding
// (wrapping ErrUnreadable): every reader takes UTF-8 only.
func Decompress(r io.Reader) (rd io.Reader, gzipped bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, true, Unreadable(fmt.Errorf("gzip header: %w", err))
		}
		br, gzipped = bufio.NewReaderSize(gz, 64<<10), true
	}
	start, _ := br.Peek(sniffPrefix) // a read error shows on the first Read
	if err := checkEncoding(start); err != nil {
		return nil, gzipped, Unreadable(err)
	}
	return markReader{br}, gzipped, nil
}

// markReader marks its read errors (other than io.EOF) as ErrUnreadable.
type markReader struct{ r io.Reader }

func (m markReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = Unreadable(err)
	}
	return n, err
}
