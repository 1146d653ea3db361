package pubmed

import (
	"errors"
	"fmt"
)

// errTextTooLong is returned by the decoder's reader when a run of bytes
// without markup (a text node, comment, CDATA section or DTD) exceeds the
// bound: the XML decoder would otherwise hold it whole (a 1 GiB whitespace
// node took 4.2 GB RSS). The record is rejected and parsing resumes at the
// next record, like any broken XML.
var errTextTooLong = errors.New("text without markup too long")

// maxTextRun is the longest markup-free run accepted for a document limit:
// the largest document with every byte escaped as an entity (up to 8 bytes
// each) plus slack.
func maxTextRun(maxDocBytes int) int64 {
	if maxDocBytes <= 0 {
		maxDocBytes = 256 << 10
	}
	return 8*int64(maxDocBytes) + 1<<20
}

// textRun counts the bytes since the last '<' the decoder read.
type textRun struct {
	run, max int64
}

func (t *textRun) observe(b byte) error {
	if b == '<' {
		t.run = 0
		return nil
	}
	t.run++
	if t.max > 0 && t.run > t.max {
		t.run = 0
		return fmt.Errorf("%w: over %d bytes without a tag", errTextTooLong, t.max)
	}
	return nil
}
