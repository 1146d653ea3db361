package abbrev

import (
	"unicode"
)

// Span is a piece of the document: code-point offsets [Begin, End) and the
// text they cover.
type Span struct {
	Begin int    `json:"begin"`
	End   int    `json:"end"`
	Text  string `json:"text"`
}

// Pair is one abbreviation definition found in the text.
type Pair struct {
	Short Span `json:"short"`
	Long  Span `json:"long"`
}

// Limits of a short form, from Schwartz & Hearst: 2 to 12 characters (S&H: 10; "IL-2R alpha" has 11), at most
// two words, at least one letter, starting with a letter or digit.
const (
	minShort      = 2
	maxShort      = 12
	maxShortWords = 2
)

// Detect returns the abbreviation definitions of text in text order. A short
// form is defined once per document: a later definition of the same short
// form is ignored (the first one is the one later mentions refer to).
func Detect(text string) []Pair {
	r := []rune(text)
	var pairs []Pair
	seen := map[string]bool{}
	for i := 0; i < len(r); i++ {
		if r[i] != '(' {
			continue
		}
		close := matchParen(r, i)
		// " (" or "word(" … ")" followed by a non-word character: "1,25-(OH)2" and
		// "(CT)19" are not definitions.
		if close < 0 || i == 0 || !(r[i-1] == ' ' || unicode.IsLetter(r[i-1])) || (close+1 < len(r) && isWordChar(r[close+1])) {
			continue
		}
		p, ok := candidate(r, i, close)
		if ok && !seen[p.Short.Text] {
			seen[p.Short.Text] = true
			pairs = append(pairs, p)
		}
	}
	return pairs
}

// matchParen returns the index of the ')' closing the '(' at open, within the
// same sentence-ish stretch (no newline), or -1.
func matchParen(r []rune, open int) int {
	depth := 0
	for j := open; j < len(r) && j < open+200; j++ {
		switch r[j] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j
			}
		case '\n':
			return -1
		}
	}
	return -1
}

// candidate tries both patterns for the parenthesis r[open..close].
func candidate(r []rune, open, close int) (Pair, bool) {
	inB, inE := trim(r, open+1, close)
	// Inside text up to the first ";" or ", " (S&H: "(SF; other)" / "(SF, other)").
	for j := inB; j < inE; j++ {
		if r[j] == ';' || (r[j] == ',' && j+1 < inE && r[j+1] == ' ') {
			inE = j
			inB, inE = trim(r, inB, inE)
			break
		}
	}
	if inB >= inE {
		return Pair{}, false
	}
	// Pattern 1: long form (SF).
	if validShort(r[inB:inE]) {
		if lb, le, ok := longBefore(r, open, inB, inE); ok {
			return pair(r, inB, inE, lb, le), true
		}
	}
	// Pattern 2: SF (long form): the word before "(" is the short form and
	// the parenthesis holds more words than the short form has characters'
	// worth of matches.
	sb, se := wordBefore(r, open)
	if sb < se && validShort(r[sb:se]) && words(r[inB:inE]) >= 2 {
		if lb, ok := bestLongForm(r[sb:se], r, inB, inE); ok && lb == inB {
			return pair(r, sb, se, inB, inE), true
		}
	}
	return Pair{}, false
}

func pair(r []rune, sb, se, lb, le int) Pair {
	return Pair{Short: Span{sb, se, string(r[sb:se])}, Long: Span{lb, le, string(r[lb:le])}}
}

func trim(r []rune, b, e int) (int, int) {
	for b < e && unicode.IsSpace(r[b]) {
		b++
	}
	for e > b && unicode.IsSpace(r[e-1]) {
		e--
	}
	return b, e
}

func words(s []rune) int {
	n, in := 0, false
	for _, c := range s {
		if unicode.IsSpace(c) {
			in = false
		} else if !in {
			in = true
			n++
		}
	}
	return n
}

// validShort applies the short form rules of Schwartz & Hearst.
func validShort(s []rune) bool {
	if len(s) < minShort || len(s) > maxShort || words(s) > maxShortWords {
		return false
	}
	if !unicode.IsLetter(s[0]) && !unicode.IsDigit(s[0]) {
		return false
	}
	letter := false
	for _, c := range s {
		if unicode.IsLetter(c) {
			letter = true
		}
		if c == '(' || c == ')' || c == '[' || c == ']' || c == '=' {
			return false
		}
	}
	return letter
}

// wordBefore returns the token just before position open (skipping spaces).
func wordBefore(r []rune, open int) (int, int) {
	e := open
	for e > 0 && r[e-1] == ' ' {
		e--
	}
	b := e
	for b > 0 && !unicode.IsSpace(r[b-1]) && r[b-1] != '(' && r[b-1] != ')' {
		b--
	}
	// Drop punctuation glued to the ends.
	for b < e && isPunct(r[b]) {
		b++
	}
	for e > b && isPunct(r[e-1]) {
		e--
	}
	return b, e
}

func isPunct(c rune) bool {
	return c == ',' || c == ';' || c == ':' || c == '.' || c == '"' || c == '\''
}

// longBefore finds the long form ending just before the "(" at open for the
// short form r[sb:se]: at most min(|SF|+5, 2|SF|) words back, within the
// sentence, then the shortest suffix that matches (S&H's best long form).
func longBefore(r []rune, open, sb, se int) (int, int, bool) {
	le := open
	for le > 0 && unicode.IsSpace(r[le-1]) {
		le--
	}
	if le == 0 {
		return 0, 0, false
	}
	n := se - sb
	maxWords := min(n+5, 2*n)
	b := le
	w := 0
	for b > 0 {
		c := r[b-1]
		if c == '\n' || c == ';' || (c == '.' && b >= 2 && r[b-2] != ' ' && b < len(r) && r[b] == ' ') {
			break
		}
		if c == ')' || c == '(' {
			break
		}
		if c == ' ' && b < le && r[b] != ' ' {
			w++
			if w >= maxWords {
				break
			}
		}
		b--
	}
	b, _ = trim(r, b, le)
	lb, ok := bestLongForm(r[sb:se], r, b, le)
	if !ok {
		return 0, 0, false
	}
	// Drop punctuation at the edges of the long form.
	for lb < le && (isPunct(r[lb]) || r[lb] == ' ') {
		lb++
	}
	if lb >= le {
		return 0, 0, false
	}
	return lb, le, true
}

// bestLongForm is Schwartz & Hearst's findBestLongForm: match the short
// form's letters and digits right to left in the candidate r[b:e]; the first
// character of the short form must start a word. It returns the start of
// the long form.
func bestLongForm(sf []rune, r []rune, b, e int) (int, bool) {
	si := len(sf) - 1
	li := e - 1
	for si >= 0 {
		c := unicode.ToLower(sf[si])
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			si--
			continue
		}
		for li >= b && (unicode.ToLower(r[li]) != c || (si == 0 && li > b && isWordChar(r[li-1]))) {
			li--
		}
		if li < b {
			return 0, false
		}
		li--
		si--
	}
	start := li + 1
	// Extend to the start of the token ("12-O-tetradecanoylphorbol").
	for start > b && !unicode.IsSpace(r[start-1]) && r[start-1] != '(' {
		start--
	}
	// "mouse mammary tumor virus (MMTV)": the rightmost word starting with
	// the first letter may be a later word of the long form. Take an earlier
	// word when the initials of the longer long form are, in order, letters
	// of the short form.
	for j := start - 1; j >= b; j-- {
		if (j == b || unicode.IsSpace(r[j-1])) && !unicode.IsSpace(r[j]) && initialsIn(r[j:e], sf) {
			start = j
		}
	}
	// Too many words for the letters: "AP-1/NF-AT" after a whole clause.
	if words(r[start:e]) > alnum(sf)+3 {
		return 0, false
	}
	// The long form must be longer than the short form and not contain it
	// as a word of its own.
	if e-start <= len(sf) {
		return 0, false
	}
	return start, true
}

func isWordChar(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }

func alnum(s []rune) int {
	n := 0
	for _, c := range s {
		if isWordChar(c) {
			n++
		}
	}
	return n
}

// initialsIn reports whether the first characters of the words of s are, in
// order, a subsequence of the short form (case-insensitive).
func initialsIn(s, sf []rune) bool {
	k := 0
	for i, c := range s {
		if unicode.IsSpace(c) || (i > 0 && !unicode.IsSpace(s[i-1])) {
			continue
		}
		c = unicode.ToLower(c)
		for k < len(sf) && unicode.ToLower(sf[k]) != c {
			k++
		}
		if k == len(sf) {
			return false
		}
		k++
	}
	return true
}
