package segment

import (
	"unicode"
	"unicode/utf8"
)

// abbrevAlways lists words (case-sensitive, without the final period) after
// which a period never ends a sentence, whatever follows: "e.g. ECP",
// "vs. Control", "Fig. 2", "Dr. Smith".
var abbrevAlways = set(
	"e.g", "i.e", "eg", "ie", "viz", "cf", "Cf", "vs", "Vs",
	"Fig", "Figs", "fig", "figs", "approx", "Approx", "ca",
	"Dr", "Drs", "Prof", "Mr", "Mrs", "Ms", "St", "Mt", "Ste",
	"U.S", "U.K", "U.S.A", "var", "cv", "sect",
	"Eq", "Eqs", "eq", "eqs", "Ref", "Refs", "ref", "refs",
	"Suppl", "suppl", "Tab", "Nr", "nr",
)

// abbrevBeforeNumber lists words after which a period does not end a
// sentence unless the next token starts with an upper-case letter: numbers
// ("No. 5"), citations ("et al. (1990)", "J. Virol. 63:3040"), and words that
// also end sentences ("etc.", "Inc.", "min.").
var abbrevBeforeNumber = set(
	"No", "no", "Nos", "nos", "Vol", "vol", "Vols", "pp", "p", "Ch", "ch",
	"Chap", "Sec", "Sect", "Art", "Pt", "pt", "ed", "eds", "Ed", "Eds",
	"al", "etc", "Inc", "Ltd", "Co", "Corp", "Jr", "Sr", "resp", "min", "max",
	"Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug",
	"Sep", "Sept", "Oct", "Nov", "Dec",
	// journal titles in references ("Mol. Cell. Biol. 8:5581")
	"Mol", "Cell", "Biol", "Biochem", "Biophys", "Biochim", "Acta", "Proc",
	"Natl", "Acad", "Sci", "Med", "Exp", "Immunol", "Virol", "Chem", "Res",
	"Nucl", "Acids", "Genet", "Lett", "Commun", "Clin", "Invest", "Engl",
	"Physiol", "Pharmacol", "Endocrinol", "Oncol", "Hematol", "Cancer",
	"Nat", "Rev", "Ann", "Annu", "Dev", "Struct", "Microbiol", "Pathol",
	"Am", "Eur", "Int", "Br", "Jpn", "Steroid", "Genes", "Science",
)

// journalAbbrev lists abbreviated words of journal titles: a period after
// one does not end a sentence when another journal word follows
// ("Mol. Cell. Biol.", "Exp. Cell Res.", "Am. J. Physiol.").
var journalAbbrev = set(
	"Mol", "Biol", "Biochem", "Biophys", "Biochim", "Proc", "Natl", "Acad",
	"Sci", "Med", "Exp", "Immunol", "Virol", "Chem", "Res", "Nucl", "Genet",
	"Lett", "Commun", "Clin", "Invest", "Engl", "Physiol", "Pharmacol",
	"Endocrinol", "Oncol", "Hematol", "Nat", "Rev", "Ann", "Annu", "Dev",
	"Struct", "Microbiol", "Pathol", "Am", "Eur", "Int", "Br", "Jpn", "J",
)

// journalWords are whole words that occur in journal titles after an
// abbreviation ("Exp. Cell Res.", "Nucl. Acids Res.").
var journalWords = set(
	"Cell", "Cancer", "Acta", "Acids", "Science", "Nature", "Blood",
	"Immunity", "Genes", "Steroid", "Oncogene", "Leukemia", "Endocrinology",
	"USA",
)

// isJournalPair reports whether word (without its period) and the token at
// k form part of a journal title: an abbreviation followed by a journal
// word or abbreviation, or a journal word followed by an abbreviation with
// its period.
func isJournalPair(text, word string, k int) bool {
	next := tokenAt(text, k)
	dotted := false
	if n := len(next); n > 0 && (next[n-1] == '.' || next[n-1] == ',') {
		dotted = next[n-1] == '.'
		next = next[:n-1]
	}
	if journalAbbrev[word] {
		return journalAbbrev[next] || journalWords[next]
	}
	return journalWords[word] && dotted && journalAbbrev[next]
}

// taxonAbbrev lists words after which a period ends a sentence only before
// an ordinary capitalised word: "Bacillus spp. The isolates ..." ends,
// "Streptomyces sp. NRRL 3052" and "Bacillus sp. B4" do not.
var taxonAbbrev = set("sp", "spp", "ssp", "subsp", "str", "aff", "nov", "gen")

// isCapitalizedWord reports whether the token at k is an ordinary
// capitalised word: an upper-case letter, then at least two lower-case
// letters and nothing but letters, hyphens and trailing punctuation.
func isCapitalizedWord(text string, k int) bool {
	tok := tokenAt(text, k)
	lower := 0
	for i, r := range tok {
		switch {
		case i == 0:
			if !isUpper(r) {
				return false
			}
		case unicode.IsLower(r):
			lower++
		case r == '-' || r == ',' || r == '.' || r == ';' || r == ':':
		default:
			return false
		}
	}
	return lower >= 2
}

// labelWords are the words one of which a structured-abstract label must
// contain ("MATERIALS AND METHODS:", "BACKGROUND & AIMS:").
var labelWords = set(
	"BACKGROUND", "OBJECTIVE", "OBJECTIVES", "AIM", "AIMS", "PURPOSE",
	"INTRODUCTION", "METHOD", "METHODS", "MATERIAL", "MATERIALS", "DESIGN",
	"SETTING", "SETTINGS", "PATIENTS", "PARTICIPANTS", "SUBJECTS",
	"INTERVENTION", "INTERVENTIONS", "MEASUREMENTS", "MEASURES", "OUTCOME",
	"OUTCOMES", "RESULT", "RESULTS", "FINDINGS", "CONCLUSION", "CONCLUSIONS",
	"INTERPRETATION", "DISCUSSION", "CONTEXT", "SUMMARY", "ABSTRACT",
	"HYPOTHESIS", "RATIONALE", "SIGNIFICANCE", "IMPORTANCE", "LIMITATIONS",
	"PROCEDURE", "PROCEDURES", "PROBLEM", "OBSERVATIONS", "STUDY", "CASE",
	"REPORT", "PRESENTATION", "SOURCES", "SELECTION", "EXTRACTION",
	"SYNTHESIS", "EXPERIMENTAL", "EXPERIMENT", "EXPERIMENTS", "ANIMALS",
	"POPULATION", "SAMPLE", "TRIAL", "REGISTRATION", "FUNDING", "EVIDENCE",
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// labelLen returns the byte length of a structured-abstract label starting at
// i (upper-case words, one of them in labelWords, at least 4 letters, then
// ':' and whitespace or the end of the text), colon included; 0 when there is
// none.
func labelLen(text string, i int) int {
	const maxLabel = 64
	j, letters, known := i, 0, false
	for j-i <= maxLabel {
		ws := j
		for j < len(text) && text[j] >= 'A' && text[j] <= 'Z' {
			j++
		}
		if j == ws || j >= len(text) {
			return 0
		}
		c := text[j]
		if c != ':' && c != ' ' && c != '/' && c != '&' && c != ',' && c != '-' {
			return 0
		}
		letters += j - ws
		if !known && j-ws >= 3 && labelWords[text[ws:j]] {
			known = true
		}
		switch c {
		case ':':
			if !known || letters < 4 {
				return 0
			}
			if j+1 < len(text) {
				if r, _ := decodeAt(text, j+1); !isSpace(r) {
					return 0
				}
			}
			return j + 1 - i
		case ' ', '/', '&', ',', '-':
			// separators between words: at most " & "
			s := j
			for j < len(text) && j-s < 3 && (text[j] == ' ' || text[j] == '/' || text[j] == '&' || text[j] == ',' || text[j] == '-') {
				j++
			}
		default:
			return 0
		}
	}
	return 0
}

// isSpace reports whether r is white space (unicode.IsSpace).
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

// isLineBreak reports whether r ends a line; a line break always ends a
// sentence.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// isCloser reports whether r may follow terminal punctuation inside the
// sentence it ends: closing quotes and brackets.
func isCloser(r rune) bool {
	switch r {
	case ')', ']', '}', '"', '\'', '\u2019', '\u201d', '\u00bb', '\u203a':
		return true
	}
	return false
}

// isOpener reports whether r opens a bracket or a quotation.
func isOpener(r rune) bool {
	switch r {
	case '(', '[', '{', '"', '\'', '`', '\u2018', '\u201c', '\u00ab', '\u2039':
		return true
	}
	return false
}

func isUpper(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'A' && r <= 'Z'
	}
	return unicode.IsUpper(r) || unicode.IsTitle(r)
}

// isPlausibleStart reports whether a sentence may start with r: an
// upper-case letter, a digit, an opening bracket or quote.
func isPlausibleStart(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || isOpener(r)
	}
	return unicode.IsUpper(r) || unicode.IsTitle(r) || unicode.IsDigit(r) || isOpener(r)
}

// isGeneLikeToken reports whether the token at k starts with a lower-case
// letter and has a digit or an upper-case letter later ("p53", "cDNA",
// "c-Myc").
func isGeneLikeToken(text string, k int) bool {
	r, w := decodeAt(text, k)
	if !unicode.IsLower(r) {
		return false
	}
	for i, n := k+w, 0; i < len(text) && n < 32; n++ {
		r, w := decodeAt(text, i)
		if isSpace(r) {
			break
		}
		if unicode.IsDigit(r) || isUpper(r) {
			return true
		}
		i += w
	}
	return false
}

// isLowerWord reports whether word is at least three letters, all lower case
// (an ordinary word, not a unit or an abbreviation).
func isLowerWord(word string) bool {
	n := 0
	for _, r := range word {
		if !unicode.IsLower(r) {
			return false
		}
		n++
	}
	return n >= 3
}

// trimOpeners removes leading brackets and quotes from a word.
func trimOpeners(word string) string {
	for word != "" {
		r, w := utf8.DecodeRuneInString(word)
		if !isOpener(r) {
			break
		}
		word = word[w:]
	}
	return word
}

// isInitials reports whether word (without its final period) is one
// upper-case letter or several joined by '.', ".-" or '-' ("J", "C.J",
// "H.-M", "T.-W").
func isInitials(word string) bool {
	if word == "" {
		return false
	}
	// sep is the separator since the last letter: "", ".", "-" or ".-"
	const (
		none = iota
		dot
		dash
		dotDash
	)
	sep := none
	for i, r := range word {
		switch {
		case isUpper(r):
			if i > 0 && sep == none {
				return false // two letters in a row: a word, not initials
			}
			sep = none
		case i == 0:
			return false
		case r == '.' && sep == none:
			sep = dot
		case r == '-' && sep == none:
			sep = dash
		case r == '-' && sep == dot:
			sep = dotDash
		default:
			return false
		}
	}
	return sep == none
}

// isInitialAt reports whether the token at k is an initial ("M." or "C.J."
// or "H.-M.") followed by whitespace.
func isInitialAt(text string, k int) bool {
	e := k
	for e < len(text) && e-k <= 12 {
		r, w := decodeAt(text, e)
		if isSpace(r) || r == ',' {
			break
		}
		e += w
	}
	tok := text[k:e]
	if len(tok) < 2 || tok[len(tok)-1] != '.' {
		return false
	}
	return isInitials(tok[:len(tok)-1])
}

// prevWord returns the whitespace-delimited token that ends before ws (the
// start of the current word), not reaching before start, without its final
// period; "" when there is none.
func prevWord(text string, start, ws int) string {
	e := ws
	for e > start {
		r, w := utf8.DecodeLastRuneInString(text[:e])
		if !isSpace(r) {
			break
		}
		e -= w
	}
	if e <= start || text[e-1] != '.' {
		return ""
	}
	b := e
	for b > start && e-b <= 12 {
		r, w := utf8.DecodeLastRuneInString(text[:b])
		if isSpace(r) {
			break
		}
		b -= w
	}
	return text[b : e-1]
}

// isDottedLower reports whether word is a dotted lower-case abbreviation
// without its final period ("p.m", "a.m", "e.g").
func isDottedLower(word string) bool {
	dot := false
	for i := 0; i < len(word); i++ {
		c := word[i]
		switch {
		case c == '.':
			if i == 0 || word[i-1] == '.' {
				return false
			}
			dot = true
		case c < 'a' || c > 'z':
			return false
		}
	}
	return dot
}

// tokenAt returns the whitespace-delimited token starting at k (at most
// 32 bytes of it).
func tokenAt(text string, k int) string {
	e := k
	for e < len(text) && e-k < 32 {
		r, w := decodeAt(text, e)
		if isSpace(r) {
			break
		}
		e += w
	}
	return text[k:e]
}

// isAuthorInitial reports whether the single capital at ws (followed by a
// period, the next token at k) is an author's initial in a reference outside
// brackets: "Karsenty, G. (1995) Mol. Cell. Biol.", "Tracey, J. J. Exp.
// Med.", "Jiang, L. Szekely, V. Wendel-Hansen".
func isAuthorInitial(text string, start, ws, k int) bool {
	next := tokenAt(text, k)
	// a year in brackets: "G. (1995)"
	if len(next) >= 6 && next[0] == '(' && (next[1:3] == "19" || next[1:3] == "20") &&
		isDigits(next[3:5]) && (next[5] == ')' || (len(next) > 6 && next[6] == ')')) {
		return true
	}
	// a journal abbreviation: "J. Exp. Med."
	if n := len(next); n > 1 && next[n-1] == '.' && abbrevBeforeNumber[next[:n-1]] && isUpper(rune(next[0])) {
		return true
	}
	// "Surname, X. Surname," in an author list
	if n := len(next); n > 1 && next[n-1] == ',' && isUpper(rune(next[0])) {
		e := skipSpaceBack(text, start, ws)
		if e > start && text[e-1] == ',' {
			return true
		}
		// "..., and A. Rosen,"
		if p := prevToken(text, start, e); p == "and" || p == "&" {
			if e = skipSpaceBack(text, start, e-len(p)); e > start && text[e-1] == ',' {
				return true
			}
		}
	}
	return false
}

// skipSpaceBack returns the offset after the last non-space rune before e,
// not going before start.
func skipSpaceBack(text string, start, e int) int {
	for e > start {
		r, w := utf8.DecodeLastRuneInString(text[:e])
		if !isSpace(r) {
			break
		}
		e -= w
	}
	return e
}

// prevToken returns the token that ends at e (at most 16 bytes of it).
func prevToken(text string, start, e int) string {
	b := e
	for b > start && e-b < 16 {
		r, w := utf8.DecodeLastRuneInString(text[:b])
		if isSpace(r) {
			break
		}
		b -= w
	}
	return text[b:e]
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
