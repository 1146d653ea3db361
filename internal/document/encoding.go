package document

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrNotUTF8 is wrapped by the error for an input that starts as UTF-16 or
// UTF-32 (with the file's name and ErrUnreadable).
var ErrNotUTF8 = errors.New("input is not UTF-8")

// sniffPrefix is how much of an input's start checkEncoding looks at.
const sniffPrefix = 512

// byteOrderMarks are the marks of the encodings nerstream does not read,
// longest first (UTF-32LE's mark starts with UTF-16LE's).
var byteOrderMarks = []struct {
	enc string
	bom []byte
}{
	{"UTF-32BE", []byte{0x00, 0x00, 0xFE, 0xFF}},
	{"UTF-32LE", []byte{0xFF, 0xFE, 0x00, 0x00}},
	{"UTF-16BE", []byte{0xFE, 0xFF}},
	{"UTF-16LE", []byte{0xFF, 0xFE}},
}

// checkEncoding refuses an input whose start b shows it is not UTF-8: a
// UTF-16 or UTF-32 byte-order mark, or NUL bytes (UTF-16/32 without a
// mark: ASCII text then has a NUL beside every character). Every reader
// takes UTF-8 only (a UTF-8 mark is fine): the error names the encoding
// and how to convert, instead of a JSON or XML syntax error on the first
// byte. Transcoding is left to the user on purpose: the producer's
// manifest and batch ids are tied to the file's bytes, and an input
// without a mark cannot be recognised reliably anyway.
func checkEncoding(b []byte) error {
	for _, m := range byteOrderMarks {
		if bytes.HasPrefix(b, m.bom) {
			return fmt.Errorf("%w: encoded as %s (byte-order mark % X); nerstream reads UTF-8 only: convert it first, e.g. iconv -f %s -t UTF-8", ErrNotUTF8, m.enc, m.bom, m.enc)
		}
	}
	if looksWide(b) {
		return fmt.Errorf("%w: every other byte of its start is NUL (UTF-16 or UTF-32 without a byte-order mark?); nerstream reads UTF-8 only: convert it first, e.g. iconv -f UTF-16 -t UTF-8", ErrNotUTF8)
	}
	return nil
}

// looksWide reports whether at least 90% of the even or of the odd bytes of
// b's start (8 bytes at least) are NUL: ASCII in UTF-16 or UTF-32 looks so,
// UTF-8 text never (it has no NUL), so lines of a text input are never lost.
func looksWide(b []byte) bool {
	n := min(len(b), sniffPrefix) &^ 1
	if n < 8 {
		return false
	}
	var nul [2]int
	for i, c := range b[:n] {
		if c == 0 {
			nul[i%2]++
		}
	}
	return max(nul[0], nul[1])*10 >= n/2*9
}
