package segment

import (
	"unicode/utf8"
)

// Sentence is one sentence of a text: a half-open span with leading and
// trailing whitespace trimmed, given both in Unicode code points (Begin, End;
// the offsets of the public output) and in bytes (ByteBegin, ByteEnd; for
// slicing the Go string without re-counting).
//
// For valid UTF-8 input string([]rune(text)[Begin:End]) equals
// text[ByteBegin:ByteEnd]. Invalid bytes count as one code point each, the
// way []rune conversion and utf8.RuneCountInString count them.
type Sentence struct {
	Begin, End         int // code-point offsets into the text, half-open, whitespace trimmed
	ByteBegin, ByteEnd int // the same span in bytes
}

// Option configures a Splitter.
type Option func(*Splitter)

// WithMaxRunes caps the length of a sentence at n code points (n <= 0: no
// cap, the default). A longer sentence is cut at the last whitespace inside
// the cap, or exactly at the cap when the window holds no whitespace. The
// pieces keep every guarantee of Split (ordered, trimmed, nothing lost).
func WithMaxRunes(n int) Option {
	return func(s *Splitter) {
		if n < 0 {
			n = 0
		}
		s.maxRunes = n
	}
}

// WithLowercaseStarts makes the splitter also break before a lower-case token
// that looks like a gene or molecule name ("p53", "cDNA", "c-Myc": lower-case
// first letter and a digit or upper-case letter later in the token) when the
// sentence before ends in an ordinary word and a period. GENIA's gold
// sentences do not break there in 38 of 41 such places in JNLPBA train, so
// the default (off) matches the data the models were trained on.
func WithLowercaseStarts(on bool) Option {
	return func(s *Splitter) { s.lowerStarts = on }
}

// WithMaxParen sets how far (in bytes, from the opening bracket) a
// parenthetical may reach for a period inside it not to end a sentence
// (default 300). A bracket that is not closed within that distance, or before
// the end of the line, is treated as unbalanced and does not block a split.
func WithMaxParen(n int) Option {
	return func(s *Splitter) {
		if n < 0 {
			n = 0
		}
		s.maxParen = n
	}
}

// DefaultMaxParen is the default of WithMaxParen.
const DefaultMaxParen = 300

// Splitter splits texts into sentences. The zero value is not usable; create
// one with New. A Splitter is immutable after New and safe for concurrent
// use.
type Splitter struct {
	maxRunes    int
	lowerStarts bool
	maxParen    int
}

// New returns a Splitter with the given options applied over the defaults
// (no length cap, no lower-case starts, DefaultMaxParen).
func New(opts ...Option) *Splitter {
	s := &Splitter{maxParen: DefaultMaxParen}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s
}

var defaultSplitter = New()

// Split returns the sentences of text with the default rules. It never
// panics, accepts any byte string, and loses no text: every non-whitespace
// code point lies in exactly one sentence.
func Split(text string) []Sentence {
	return defaultSplitter.Split(text)
}

// SplitTo appends the sentences of text to dst and returns the extended
// slice, so a caller can reuse one buffer across documents
// (buf = segment.SplitTo(buf[:0], text)).
func SplitTo(dst []Sentence, text string) []Sentence {
	return defaultSplitter.SplitTo(dst, text)
}

// Split returns the sentences of text; see the package-level Split.
func (s *Splitter) Split(text string) []Sentence {
	// GENIA sentences average ~160 bytes; leave room for short ones
	return s.SplitTo(make([]Sentence, 0, len(text)/80+4), text)
}

// maxStack is how many open brackets the scanner remembers by position;
// deeper nesting is only counted.
const maxStack = 16

// scanner holds the state of one SplitTo call.
type scanner struct {
	sp   *Splitter
	text string
	dst  []Sentence

	// monotone byte→code-point cursor for emitting offsets
	curByte, curRune int

	start int // byte offset of the current sentence's first rune; -1 when between sentences
	last  int // byte offset just past the current sentence's last non-space rune

	stack    [maxStack]int // byte offsets of unclosed opening brackets in the current sentence
	depth    int           // entries of stack in use
	overflow int           // unclosed brackets beyond maxStack
}

// SplitTo appends the sentences of text to dst; see the package-level
// SplitTo.
func (s *Splitter) SplitTo(dst []Sentence, text string) []Sentence {
	sc := scanner{sp: s, text: text, dst: dst, start: -1}
	sc.run()
	return sc.dst
}

// Byte classes for the scanner's ASCII fast path.
const (
	clsOrdinary = iota // letters, digits, other punctuation
	clsSpace           // white space that is no line break
	clsBreak           // line break
	clsOpen            // ( [ {
	clsClose           // ) ] }
	clsTerm            // . ! ?
	clsNonASCII        // first or continuation byte of a multi-byte rune
)

var byteClass = func() (t [256]uint8) {
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = clsNonASCII
	}
	for _, c := range " \t" {
		t[c] = clsSpace
	}
	for _, c := range "\n\r\v\f" {
		t[c] = clsBreak
	}
	for _, c := range "([{" {
		t[c] = clsOpen
	}
	for _, c := range ")]}" {
		t[c] = clsClose
	}
	for _, c := range ".!?" {
		t[c] = clsTerm
	}
	return t
}()

func (sc *scanner) run() {
	text := sc.text
	afterSpace := true // at a word start
	for i := 0; i < len(text); {
		c := text[i]
		cls := byteClass[c]
		w := 1
		switch cls {
		case clsSpace:
			afterSpace = true
			i++
			continue
		case clsBreak:
			sc.flush()
			afterSpace = true
			i++
			continue
		case clsNonASCII:
			var r rune
			r, w = utf8.DecodeRuneInString(text[i:])
			if isSpace(r) {
				if isLineBreak(r) {
					sc.flush()
				}
				afterSpace = true
				i += w
				continue
			}
		}
		// A structured-abstract label ("RESULTS:") at a word start is a
		// sentence of its own.
		if afterSpace && c >= 'A' && c <= 'Z' {
			if n := labelLen(text, i); n > 0 {
				sc.flush()
				sc.start, sc.last = i, i+n
				sc.flush()
				i += n
				continue
			}
		}
		afterSpace = false
		if sc.start < 0 {
			sc.start = i
		}
		switch cls {
		case clsOrdinary:
			// the common case: skip a run of ordinary ASCII bytes
			j := i + 1
			for j < len(text) && byteClass[text[j]] == clsOrdinary {
				j++
			}
			sc.last = j
			i = j
			continue
		case clsOpen:
			if sc.depth < maxStack {
				sc.stack[sc.depth] = i
				sc.depth++
			} else {
				sc.overflow++
			}
		case clsClose:
			sc.closeBracket()
		case clsTerm:
			end, ok := sc.boundary(i, w)
			if ok {
				sc.last = end
				sc.flush()
				i = end
				continue
			}
			// Not a boundary: the absorbed run of terminal punctuation and
			// closers needs no second look (this keeps "......" linear);
			// only its closing brackets count.
			for k := i + w; k < end; k++ {
				if byteClass[text[k]] == clsClose {
					sc.closeBracket()
				}
			}
			if end > i+w {
				sc.last = end
				i = end
				continue
			}
		}
		sc.last = i + w
		i += w
	}
	sc.flush()
}

func (sc *scanner) closeBracket() {
	switch {
	case sc.overflow > 0:
		sc.overflow--
	case sc.depth > 0:
		sc.depth--
	}
}

// flush ends the current sentence (if any) at sc.last.
func (sc *scanner) flush() {
	if sc.start >= 0 {
		sc.emit(sc.start, sc.last)
	}
	sc.start = -1
	sc.depth, sc.overflow = 0, 0
}

// emit appends the trimmed span [b, e) of bytes, cutting it under the
// optional length cap.
func (sc *scanner) emit(b, e int) {
	if max := sc.sp.maxRunes; max > 0 {
		for {
			q, n := b, 0
			for q < e && n < max {
				_, w := utf8.DecodeRuneInString(sc.text[q:e])
				q += w
				n++
			}
			if q >= e {
				break
			}
			// too long: cut at the last whitespace in [b, q], else at q
			cut, next := q, q
			for k := q; k > b; {
				r, w := utf8.DecodeLastRuneInString(sc.text[b:k])
				if isSpace(r) {
					cut, next = k-w, k
					break
				}
				k -= w
			}
			if cut != q {
				cut = trimRight(sc.text, b, cut)
			}
			next = trimLeft(sc.text, next, e)
			sc.appendSpan(b, cut)
			b = next
		}
	}
	sc.appendSpan(b, e)
}

func (sc *scanner) appendSpan(b, e int) {
	if b >= e {
		return
	}
	sc.dst = append(sc.dst, Sentence{Begin: sc.runeAt(b), End: sc.runeAt(e), ByteBegin: b, ByteEnd: e})
}

// runeAt converts a byte offset not before the previous one to code points.
func (sc *scanner) runeAt(off int) int {
	sc.curRune += utf8.RuneCountInString(sc.text[sc.curByte:off])
	sc.curByte = off
	return sc.curRune
}

// boundary decides whether the terminal punctuation rune at p (width w) ends
// the current sentence. It returns the byte offset just past the run of
// terminal punctuation and closing quotes and brackets that follows p (where
// the sentence ends if it does), whatever the decision.
func (sc *scanner) boundary(p, w int) (int, bool) {
	text := sc.text
	// absorb more terminal punctuation and closing quotes/brackets
	j, closed := p+w, 0
	for j < len(text) {
		r, rw := decodeAt(text, j)
		if r == '.' || r == '!' || r == '?' {
			j += rw
			continue
		}
		if isCloser(r) {
			if r == ')' || r == ']' || r == '}' {
				closed++
			}
			j += rw
			continue
		}
		break
	}
	if j >= len(text) {
		return j, true
	}
	if r, _ := decodeAt(text, j); !isSpace(r) {
		return j, false
	}
	// next token
	k := j
	for k < len(text) {
		r, rw := decodeAt(text, k)
		if !isSpace(r) {
			break
		}
		if isLineBreak(r) {
			return j, true // the line break ends the sentence anyway
		}
		k += rw
	}
	if k >= len(text) {
		return j, true
	}
	next, _ := decodeAt(text, k)

	lower := false
	if !isPlausibleStart(next) {
		if !sc.sp.lowerStarts || !isGeneLikeToken(text, k) {
			return j, false
		}
		lower = true
	}

	// inside a short, balanced parenthetical?
	if d := sc.depth + sc.overflow - closed; d > 0 {
		if sc.overflow > 0 || d > sc.depth {
			// nesting deeper than we track: be conservative
			if closes(text, j, p, d, sc.sp.maxParen) {
				return j, false
			}
		} else if closes(text, j, sc.stack[d-1], 1, sc.sp.maxParen) {
			return j, false
		}
	}

	if text[p] != '.' {
		return j, true
	}

	// the word the period ends
	ws := p
	for ws > sc.start && p-ws <= maxWord {
		r, rw := utf8.DecodeLastRuneInString(text[:ws])
		if isSpace(r) {
			break
		}
		ws -= rw
	}
	if p-ws > maxWord {
		return j, true // a long token is no abbreviation
	}
	word := trimOpeners(text[ws:p])
	if word == "" {
		return j, true
	}
	if lower {
		// only after an ordinary lower-case word
		if !isLowerWord(word) || abbrevAlways[word] || abbrevBeforeNumber[word] {
			return j, false
		}
		return j, true
	}
	if abbrevAlways[word] {
		return j, false
	}
	if taxonAbbrev[word] && !isCapitalizedWord(text, k) {
		return j, false
	}
	if abbrevBeforeNumber[word] && (!isUpper(next) || isJournalPair(text, word, k)) {
		return j, false
	}
	if closed > 0 && (abbrevBeforeNumber[word] || isDottedLower(word)) {
		// "(1 mg at 11 p.m.) Type ...", "(Smith et al.) The ..."
		return j, false
	}
	if isInitials(word) {
		if len(word) > 1 {
			return j, false // "C.J.", "H.-M.", "S.D."
		}
		// a single capital: an initial when another initial is next to it,
		// else a name like "protein kinase C." or "type I." ends the sentence
		if isUpper(next) && isInitialAt(text, k) {
			return j, false
		}
		if prev := prevWord(text, sc.start, ws); prev != "" && isInitials(trimOpeners(prev)) {
			return j, false
		}
		if isAuthorInitial(text, sc.start, ws, k) {
			return j, false
		}
		return j, true
	}
	return j, true
}

// maxWord bounds the backward scan for the word before a period (bytes).
const maxWord = 48

// closes reports whether, starting at from, the brackets close depth levels
// before limit bytes past open and before the end of the line.
func closes(text string, from, open, depth, limit int) bool {
	end := open + limit
	if end > len(text) {
		end = len(text)
	}
	for i := from; i < end; i++ {
		switch text[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				return true
			}
		case '\n', '\r':
			return false
		}
	}
	return false
}

func decodeAt(text string, i int) (rune, int) {
	if c := text[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(text[i:])
}

func trimLeft(text string, b, e int) int {
	for b < e {
		r, w := decodeAt(text, b)
		if !isSpace(r) {
			break
		}
		b += w
	}
	return b
}

func trimRight(text string, b, e int) int {
	for e > b {
		r, w := utf8.DecodeLastRuneInString(text[b:e])
		if !isSpace(r) {
			break
		}
		e -= w
	}
	return e
}
