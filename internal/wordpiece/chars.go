package wordpiece

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Character classes of Hugging Face's BertNormalizer and BertPreTokenizer.
//
// The Rust implementation takes its categories from the unicode_categories
// crate (an old Unicode version) and its decompositions from
// unicode-normalization-alignments, while Go's unicode package follows a newer
// Unicode version. The hf* tables in tables.go correct Go's answers wherever
// they differ from the Rust ones; TestCodePointSweep checks every code point
// against the real library.

// ASCII class bits, precomputed for the fast path.
const (
	clsRemove = 1 << iota // removed by clean_text
	clsSpace              // whitespace (split point; mapped to ' ' by clean_text)
	clsPunct              // BERT punctuation (isolated word)
	clsUpper              // changes under lowercase
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := rune(0); c < utf8.RuneSelf; c++ {
		var v uint8
		if isRemovedSlow(c) {
			v |= clsRemove
		}
		if isWhitespace(c) {
			v |= clsSpace
		}
		if isPunctSlow(c) {
			v |= clsPunct
		}
		if 'A' <= c && c <= 'Z' {
			v |= clsUpper
		}
		t[c] = v
	}
	return t
}()

// isWhitespace is Rust's char::is_whitespace (the White_Space property), which
// BertNormalizer's is_whitespace extends with \t \n \r (already White_Space).
func isWhitespace(c rune) bool {
	return unicode.IsSpace(c)
}

// isRemoved reports whether clean_text drops c: NUL, U+FFFD, or a "control"
// character (categories Cc, Cf, Co in HF's tables) other than \t \n \r.
func isRemoved(c rune) bool {
	if c < utf8.RuneSelf {
		return asciiClass[c]&clsRemove != 0
	}
	return isRemovedSlow(c)
}

func isRemovedSlow(c rune) bool {
	switch c {
	case 0, 0xFFFD:
		return true
	case '\t', '\n', '\r':
		return false
	}
	if unicode.In(c, hfOtherAdd) {
		return true
	}
	if unicode.In(c, hfOtherDel) {
		return false
	}
	return unicode.In(c, unicode.Cc, unicode.Cf, unicode.Co)
}

// isPunct is BertPreTokenizer's is_bert_punc: ASCII punctuation (33–47,
// 58–64, 91–96, 123–126) or Unicode general category P*.
func isPunct(c rune) bool {
	if c < utf8.RuneSelf {
		return asciiClass[c]&clsPunct != 0
	}
	return isPunctSlow(c)
}

func isPunctSlow(c rune) bool {
	if c < utf8.RuneSelf {
		return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)
	}
	if unicode.In(c, hfPunctAdd) {
		return true
	}
	if unicode.In(c, hfPunctDel) {
		return false
	}
	return unicode.IsPunct(c)
}

// isChinese is BertNormalizer's is_chinese_char (the CJK ideograph blocks,
// verbatim from the Rust source, which differs slightly from Google's BERT).
func isChinese(c rune) bool {
	switch {
	case c < 0x3400:
		return false
	case c <= 0x4DBF:
		return true
	case c >= 0x4E00 && c <= 0x9FFF:
		return true
	case c >= 0xF900 && c <= 0xFAFF:
		return true
	case c >= 0x20000 && c <= 0x2A6DF:
		return true
	case c >= 0x2A700 && c <= 0x2B81F:
		return true
	case c >= 0x2B920 && c <= 0x2CEAF:
		return true
	case c >= 0x2F800 && c <= 0x2FA1F:
		return true
	}
	return false
}

// isNonSpacingMark is the Mn test of strip_accents.
func isNonSpacingMark(c rune) bool {
	if unicode.In(c, hfMnAdd) {
		return true
	}
	if unicode.In(c, hfMnDel) {
		return false
	}
	return unicode.Is(unicode.Mn, c)
}

// hfCCC returns the canonical combining class of c in Hugging Face's
// normalization tables.
func hfCCC(c rune) uint8 {
	if c < 0x300 || unicode.In(c, hfCCCZero) {
		return 0
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], c)
	return norm.NFD.Properties(buf[:n]).CCC()
}

// Hangul syllable decomposition constants (Unicode §3.12).
const (
	hangulBase  = 0xAC00
	hangulCount = 11172
	jamoLBase   = 0x1100
	jamoVBase   = 0x1161
	jamoTBase   = 0x11A7
	jamoVCount  = 21
	jamoTCount  = 28
	jamoNCount  = jamoVCount * jamoTCount
)

// appendNFD appends the canonical decomposition of c to dst (c itself when it
// has none), without allocating.
func appendNFD(dst []rune, c rune) []rune {
	if c < 0xC0 {
		return append(dst, c)
	}
	if c >= hangulBase && c < hangulBase+hangulCount {
		s := c - hangulBase
		dst = append(dst, jamoLBase+s/jamoNCount, jamoVBase+(s%jamoNCount)/jamoTCount)
		if t := s % jamoTCount; t != 0 {
			dst = append(dst, jamoTBase+t)
		}
		return dst
	}
	if unicode.In(c, hfNoDecomp) {
		return append(dst, c)
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], c)
	d := norm.NFD.Properties(buf[:n]).Decomposition()
	if d == nil {
		return append(dst, c)
	}
	for len(d) > 0 {
		r, size := utf8.DecodeRune(d)
		dst = append(dst, r)
		d = d[size:]
	}
	return dst
}

// appendLower appends Rust's char::to_lowercase(c) to dst: the simple
// lowercase mapping (of Unicode 16), except U+0130 which becomes "i\u0307".
func appendLower(dst []rune, c rune) []rune {
	if c < utf8.RuneSelf {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return append(dst, c)
	}
	if c == 0x130 {
		return append(dst, 'i', 0x307)
	}
	if l, ok := hfLowerExtra[c]; ok {
		return append(dst, l)
	}
	return append(dst, unicode.ToLower(c))
}
