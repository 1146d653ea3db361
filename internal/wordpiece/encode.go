package wordpiece

import (
	"unicode/utf8"
)

// Span is a half-open range [Begin, End) of offsets.
type Span struct{ Begin, End int }

// Encoding is the result of encoding one text: parallel slices with one entry
// per wordpiece. It holds no special tokens ([CLS], [SEP], padding); callers
// add them when they build model inputs.
//
// An Encoding may be reused with Tokenizer.EncodeTo, which overwrites it and
// reuses its memory. It must not be used by two goroutines at once.
type Encoding struct {
	// IDs are the wordpiece ids.
	IDs []int64
	// Tokens are the wordpiece strings, continuation pieces with their
	// prefix ("##"). They share memory with the Tokenizer.
	Tokens []string
	// Words is the index of the pre-tokenized word (whitespace- and
	// punctuation-separated, or added token) that each wordpiece belongs to,
	// counted from 0 like Hugging Face's word_ids.
	Words []int
	// Bytes are byte offsets of each wordpiece in the original input.
	Bytes []Span
	// Chars are code-point offsets of each wordpiece in the original input,
	// as Hugging Face reports them (offset_type=char).
	Chars []Span

	// Scratch, reused by EncodeTo.
	origOff []int32   // byte offset of each original code point, plus len(text)
	wb      []byte    // normalized UTF-8 of the current word
	woff    []int32   // byte offset in wb of each normalized rune, plus len(wb)
	worig   []int32   // original code-point index of each normalized rune
	tmp2    []rune    // decomposition scratch
	nfd     []nfdItem // decomposed code points awaiting canonical reordering
	nfdSrc  []int32   // original code points fed to the decomposition, in order
	nfdHead int       // next nfdSrc entry to hand out
	nfdLast int32     // nfdSrc entry handed out last
	word    int       // index of the current word
}

// Len returns the number of wordpieces.
func (e *Encoding) Len() int { return len(e.IDs) }

func (e *Encoding) reset() {
	e.IDs = e.IDs[:0]
	e.Tokens = e.Tokens[:0]
	e.Words = e.Words[:0]
	e.Bytes = e.Bytes[:0]
	e.Chars = e.Chars[:0]
	e.origOff = e.origOff[:0]
	e.wb = e.wb[:0]
	e.woff = e.woff[:0]
	e.worig = e.worig[:0]
	e.nfd = e.nfd[:0]
	e.nfdSrc = e.nfdSrc[:0]
	e.nfdHead = 0
	e.word = 0
}

// Encode tokenizes text into wordpieces without special tokens. It returns
// exactly what Hugging Face tokenizers returns for
// tokenizer.encode(text, add_special_tokens=False) on the same
// tokenizer.json: ids, tokens, word ids and offsets (Chars equals HF's
// offsets). Invalid UTF-8 bytes count as one code point each (U+FFFD).
func (t *Tokenizer) Encode(text string) *Encoding {
	enc := &Encoding{}
	t.EncodeTo(enc, text)
	return enc
}

// EncodeTo is Encode writing into enc, reusing its slices so that a warm
// Encoding encodes without allocating.
func (t *Tokenizer) EncodeTo(enc *Encoding, text string) {
	enc.reset()
	off := enc.origOff
	for i := 0; i < len(text); {
		off = append(off, int32(i))
		if text[i] < utf8.RuneSelf {
			i++
			continue
		}
		_, n := utf8.DecodeRuneInString(text[i:])
		i += n
	}
	n := len(off)
	off = append(off, int32(len(text)))
	enc.origOff = off

	seg := 0
	for r := 0; r < n; {
		tok, ok := t.added.match(text, int(off[r]))
		if !ok {
			r++
			continue
		}
		t.segment(enc, text, seg, r)
		end := int(off[r]) + len(tok.content)
		e := r + 1
		for int(off[e]) < end {
			e++
		}
		enc.IDs = append(enc.IDs, tok.id)
		enc.Tokens = append(enc.Tokens, tok.content)
		enc.Words = append(enc.Words, enc.word)
		enc.Bytes = append(enc.Bytes, Span{int(off[r]), end})
		enc.Chars = append(enc.Chars, Span{r, e})
		enc.word++
		r, seg = e, e
	}
	t.segment(enc, text, seg, n)
}

// segment normalizes, pre-tokenizes and wordpieces the original code points
// [from, to) of text, a stretch without added tokens.
func (t *Tokenizer) segment(enc *Encoding, text string, from, to int) {
	off := enc.origOff
	for r := from; r < to; r++ {
		i := off[r]
		c := rune(text[i])
		if c < utf8.RuneSelf {
			if len(enc.nfd) > 0 {
				t.nfdDrain(enc)
			}
			cls := asciiClass[c]
			switch {
			case cls&clsRemove != 0 && t.cleanText:
			case cls&clsSpace != 0:
				t.flush(enc)
			case cls&clsPunct != 0:
				t.flush(enc)
				enc.add(c, r)
				t.flush(enc)
			default:
				if cls&clsUpper != 0 && t.lowercase {
					c += 'a' - 'A'
				}
				enc.add(c, r)
			}
			continue
		}
		c, _ = utf8.DecodeRuneInString(text[i:off[r+1]])
		if t.cleanText {
			if isRemoved(c) {
				continue
			}
			if isWhitespace(c) {
				t.boundary(enc)
				continue
			}
		}
		if t.chinese && isChinese(c) {
			t.boundary(enc)
			t.normalized(enc, c, r)
			t.boundary(enc)
			continue
		}
		t.normalized(enc, c, r)
	}
	t.boundary(enc)
}

// normalized runs strip_accents and lowercase on c (from original code point
// r) and pre-tokenizes the result.
func (t *Tokenizer) normalized(enc *Encoding, c rune, r int) {
	if t.stripAccents {
		t.nfdPush(enc, c, r)
		return
	}
	t.lowerPretok(enc, c, r)
}

// lowerPretok lowercases c if configured and pre-tokenizes the result.
func (t *Tokenizer) lowerPretok(enc *Encoding, c rune, r int) {
	if !t.lowercase {
		t.pretok(enc, c, r)
		return
	}
	if c < utf8.RuneSelf {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		t.pretok(enc, c, r)
		return
	}
	var buf [2]rune
	for _, l := range appendLower(buf[:0], c) {
		t.pretok(enc, l, r)
	}
}

// nfdItem is one code point of a canonical decomposition waiting for
// canonical reordering.
type nfdItem struct {
	c     rune
	ccc   uint8
	first bool // first code point of its character's decomposition
}

// nfdPush decomposes c (original code point r) for strip_accents. Like the
// unicode-normalization-alignments crate that Hugging Face uses, runs of
// non-starters are stably sorted by combining class, each item carrying
// whether it began its character's decomposition; offsets are then handed
// out by position (see nfdDrain), which is what Hugging Face reports.
func (t *Tokenizer) nfdPush(enc *Encoding, c rune, r int) {
	enc.nfdSrc = append(enc.nfdSrc, int32(r))
	if c < 0x300 && c < 0xC0 {
		// No decomposition and combining class 0.
		t.nfdDrain(enc)
		enc.nfd = append(enc.nfd, nfdItem{c: c, first: true})
		return
	}
	enc.tmp2 = appendNFD(enc.tmp2[:0], c)
	for k, d := range enc.tmp2 {
		cc := hfCCC(d)
		if cc == 0 {
			t.nfdDrain(enc)
		}
		enc.nfd = append(enc.nfd, nfdItem{c: d, ccc: cc, first: k == 0})
	}
}

// sortRun stably sorts items by combining class (runs are short).
func sortRun(items []nfdItem) {
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j-1].ccc > items[j].ccc; j-- {
			items[j-1], items[j] = items[j], items[j-1]
		}
	}
}

// nfdDrain reorders the pending run and passes it on: an item that began a
// decomposition takes the next original code point in input order, any
// other item the one taken last; non-spacing marks are then dropped.
func (t *Tokenizer) nfdDrain(enc *Encoding) {
	if len(enc.nfd) == 0 {
		return
	}
	sortRun(enc.nfd)
	for _, it := range enc.nfd {
		if it.first {
			enc.nfdLast = enc.nfdSrc[enc.nfdHead]
			enc.nfdHead++
		}
		if !isNonSpacingMark(it.c) {
			t.lowerPretok(enc, it.c, int(enc.nfdLast))
		}
	}
	enc.nfd = enc.nfd[:0]
	if enc.nfdHead == len(enc.nfdSrc) {
		enc.nfdSrc = enc.nfdSrc[:0]
		enc.nfdHead = 0
	}
}

// boundary ends the current word at a point where the input itself has a
// starter (ASCII, whitespace, CJK ideograph, segment end): the pending
// decomposition run is emitted first.
func (t *Tokenizer) boundary(enc *Encoding) {
	t.nfdDrain(enc)
	t.flush(enc)
}

// pretok applies BertPreTokenizer to one normalized rune.
func (t *Tokenizer) pretok(enc *Encoding, c rune, r int) {
	switch {
	case isWhitespace(c):
		t.flush(enc)
	case isPunct(c):
		t.flush(enc)
		enc.add(c, r)
		t.flush(enc)
	default:
		enc.add(c, r)
	}
}

// add appends normalized rune c, from original code point r, to the current
// word.
func (e *Encoding) add(c rune, r int) {
	e.woff = append(e.woff, int32(len(e.wb)))
	e.worig = append(e.worig, int32(r))
	e.wb = utf8.AppendRune(e.wb, c)
}

// flush wordpieces the current word, if any, and starts the next one.
func (t *Tokenizer) flush(enc *Encoding) {
	n := len(enc.worig)
	if n == 0 {
		return
	}
	enc.woff = append(enc.woff, int32(len(enc.wb)))
	t.wordpiece(enc, n)
	enc.wb = enc.wb[:0]
	enc.woff = enc.woff[:0]
	enc.worig = enc.worig[:0]
	enc.word++
}

// wordpiece splits the current word (n normalized runes) greedily into the
// longest vocabulary pieces, like the WordPiece model of Hugging Face: a word
// longer than maxChars, or with a remainder that matches no piece, becomes a
// single unknown token.
func (t *Tokenizer) wordpiece(enc *Encoding, n int) {
	base := len(enc.IDs)
	if n <= t.maxChars {
		wb, woff := enc.wb, enc.woff
		for start := 0; start < n; {
			m, maxLen := t.vocab, t.maxLen
			if start > 0 {
				m, maxLen = t.cont, t.maxContLen
			}
			sb := woff[start]
			end := n
			for end > start && int(woff[end]-sb) > maxLen {
				end--
			}
			id := int32(-1)
			for ; end > start; end-- {
				if v, ok := m[string(wb[sb:woff[end]])]; ok {
					id = v
					break
				}
			}
			if id < 0 {
				enc.truncate(base)
				break
			}
			t.emit(enc, int64(id), t.tokens[id], start, end)
			start = end
		}
		if len(enc.IDs) > base {
			return
		}
	}
	t.emit(enc, t.unk, t.unkToken, 0, n)
}

// emit appends a wordpiece covering normalized runes [s, e) of the current
// word.
func (t *Tokenizer) emit(enc *Encoding, id int64, tok string, s, e int) {
	b, l := int(enc.worig[s]), int(enc.worig[e-1])
	enc.IDs = append(enc.IDs, id)
	enc.Tokens = append(enc.Tokens, tok)
	enc.Words = append(enc.Words, enc.word)
	enc.Bytes = append(enc.Bytes, Span{int(enc.origOff[b]), int(enc.origOff[l+1])})
	enc.Chars = append(enc.Chars, Span{b, l + 1})
}

func (e *Encoding) truncate(n int) {
	e.IDs = e.IDs[:n]
	e.Tokens = e.Tokens[:n]
	e.Words = e.Words[:n]
	e.Bytes = e.Bytes[:n]
	e.Chars = e.Chars[:n]
}
