package document

import "bytes"

// utf8BOM is the byte-order mark some editors write at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// trimBOM drops a UTF-8 byte-order mark at the start of line 1; anywhere
// else it is data (and fails JSON decoding as before).
func trimBOM(b []byte, line int64) []byte {
	if line == 1 {
		return bytes.TrimPrefix(b, utf8BOM)
	}
	return b
}
